// Per-thread cursors — twin of e2e_crypto/client/cursors.py. Seqs are contiguous per
// thread, so `offer` releases messages strictly in seq order, drops duplicates (a
// replay after a reconnect, a live push racing a sync) and holds early arrivals until
// a sync fills the gap: no gap, no duplicate.

const MAX_HELD_PER_THREAD = 10_000;

export class Cursors {
  constructor(initial = {}) {
    this.position = new Map(Object.entries(initial).map(([t, s]) => [t, Number(s)]));
    this.held = new Map();
  }

  at(threadId) {
    return this.position.get(threadId) ?? 0;
  }

  startAt(threadId, seq) {
    if (!this.position.has(threadId)) this.position.set(threadId, seq);
  }

  /** [items now releasable in order, whether a gap waits for a sync]. */
  offer(threadId, seq, item) {
    let position = this.position.get(threadId) ?? 0;
    if (!this.position.has(threadId)) this.position.set(threadId, 0);
    const held = this.held.get(threadId) ?? new Map();
    if (seq <= position || held.has(seq)) return [[], held.size > 0];
    if (seq !== position + 1) {
      if (held.size < MAX_HELD_PER_THREAD) held.set(seq, item);
      this.held.set(threadId, held);
      return [[], true];
    }
    const released = [item];
    position = seq;
    while (held.has(position + 1)) {
      position += 1;
      released.push(held.get(position));
      held.delete(position);
    }
    this.position.set(threadId, position);
    if (held.size) this.held.set(threadId, held);
    else this.held.delete(threadId);
    return [released, this.held.has(threadId)];
  }

  hasGaps() {
    return this.held.size > 0;
  }

  snapshot() {
    return Object.fromEntries(this.position);
  }
}
