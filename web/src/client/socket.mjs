// The real-time connection of this browser's device — twin of
// e2e_crypto/client/connection.py, on the browser's WebSocket.
//
//   page ─send()─► seal ─► outbox[client_msg_id] ─► "send" frame ─► server
//                              ▲   │ "ack" {seq} → status "sent"   │ "error" recipients_changed
//                              │   └──────────────────────────────┘ refresh devices, re-seal
//   reconnect: resend every unacknowledged envelope unchanged (same client_msg_id: the
//   server answers duplicate: true for one it already stored)
//
//   server ─"msg"─► Cursors (order, dedupe by seq, gap → "sync")
//          ─► dedupe by (sender device, client_msg_id) ─► open (verify + decrypt)
//          ─► "message" event; consumed seqs ─► "delivered" (batched)
//
// One socket at a time: ticket → /ws → hello (signed by the device: ADR 0004) →
// welcome, then learn the threads, "sync" with explicit cursors, resend the outbox,
// re-ack. A socket that closes (server restart 1001/1006, network loss, missed pongs)
// reconnects with exponential back-off and jitter; close 4003 (session or device
// revoked) stops for good. Close 4029 (the socket kept sending past its rate limit) and
// a refused ticket (429) wait the server's retry_after instead, then reconnect and
// resend the unacknowledged outbox like any reconnect.
//
// Dedupe by (sender device, client_msg_id): a sender never reuses a client_msg_id, so a
// second envelope with the same pair is a replay — a server could store an old
// envelope again at a new seq, and it would verify (the signature covers the header,
// not the seq). It is dropped, never shown twice (docs/protocol.md).

import { fromBase64url, signSocketProof, toBase64url } from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { Cursors } from "./cursors.mjs";
import { ApiError, NotReady, SessionRevoked, closeRetryAfter, suspendedReason } from "./errors.mjs";
import { randomId } from "./keystore.mjs";
import { encodePayload, normalizePayload } from "./messages.mjs";

const WS_SESSION_REVOKED = 4003;
const WS_RATE_LIMITED = 4029;

/** A close or refusal that says how long to wait: {retryAfter} (seconds). */
class RateLimitedClose extends Error {
  constructor(retryAfter) {
    super("rate limited");
    this.retryAfter = retryAfter;
  }
}

/** A 4003 close: stop for good; a suspension's reason code is kept for the page. */
function revoked(closeReason) {
  const suspended = suspendedReason(closeReason);
  return new SessionRevoked(suspended ? "this account was suspended" : "the session or this device was revoked; log in again", { suspended });
}
const WELCOME_TIMEOUT_MS = 10_000;
const MAX_RESEALS = 3;
const MAX_GAP_SYNCS = 3;
const MAX_SYNC_CURSORS = 1000;
const ACK_DELAY_MS = 50;
const MAX_SEEN_PER_THREAD = 5000;

/** Reconnect delays: initial * factor^n capped at maximum, with full jitter. */
export class Backoff {
  constructor({ initialMs = 200, factor = 2, maximumMs = 15_000 } = {}) {
    Object.assign(this, { initialMs, factor, maximumMs });
  }

  delay(attempt) {
    const ceiling = Math.min(this.maximumMs, this.initialMs * this.factor ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

/** A `msg` frame or history entry as {threadId, seq, clientMsgId, senderAccount, senderDevice, kind, envelope, at}. */
export function sealedFromJson(doc) {
  const seq = doc.seq;
  if (!Number.isSafeInteger(seq) || seq < 1) throw new TypeError("seq must be a positive integer");
  if (!doc.sender || typeof doc.sender !== "object") throw new TypeError("no sender");
  return {
    threadId: String(doc.thread),
    seq,
    clientMsgId: String(doc.client_msg_id),
    senderAccount: String(doc.sender.account),
    senderDevice: String(doc.sender.device),
    kind: String(doc.kind ?? "message"),
    envelope: fromBase64url(String(doc.envelope)),
    at: String(doc.at),
  };
}

export class Socket {
  constructor({ api, keystore, envelopes, participants, emit, backoff = new Backoff() }) {
    this.api = api;
    this.keystore = keystore;
    this.envelopes = envelopes;
    this.participants = participants;
    this.emit = emit;
    this.backoff = backoff;
    this.cursors = new Cursors(keystore.cursors);
    this.outbox = new Map(); // client_msg_id -> pending send
    this.sent = new Map(); // thread -> Map(client_msg_id -> {seq, status})
    this.summaries = new Map();
    this.lastSeq = new Map(); // highest seq the server named per thread
    this.seen = new Map(); // thread -> Map("device/client_msg_id" -> seq)
    this.unacked = new Set();
    this.ws = null;
    this.started = false;
    this.closing = false;
    this.failure = null;
    this.syncing = false;
    this.syncAgain = false;
    this.gapSyncs = 0;
    this.frameIds = 0;
    this.attempt = 0;
    this.connects = 0;
    this.releasing = Promise.resolve();
    this.ready = null;
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Connects (once); resolves after the first welcome and sync request. */
  start() {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.started) {
      this.started = true;
      this.ready = new Promise((resolve, reject) => {
        this._resolveReady = resolve;
        this._rejectReady = reject;
      });
      this._connect();
    }
    return this.ready;
  }

  close() {
    this.closing = true;
    clearTimeout(this._retryTimer);
    clearInterval(this._pingTimer);
    this.ws?.close(1000);
    this.ws = null;
    this.emit("connection", { state: "offline" });
  }

  // -- connecting

  async _connect() {
    if (this.closing) return;
    this.emit("connection", { state: "connecting" });
    let ws;
    try {
      const ticket = await this.api.wsTicket(this.keystore.deviceId);
      ws = await this._open(ticket);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        this._fail(new SessionRevoked(error.code));
        return;
      }
      if (error instanceof SessionRevoked) {
        this._fail(error);
        return;
      }
      // A refused ticket (429) or hello (4029) says how long to wait.
      const wait = error instanceof RateLimitedClose || (error instanceof ApiError && error.status === 429) ? error.retryAfter : null;
      this._retry(wait);
      return;
    }
    this.ws = ws;
    this.attempt = 0;
    this.connects += 1;
    ws.onmessage = (event) => this._onFrame(event.data);
    ws.onclose = (event) => this._onClose(ws, event.code, event.reason);
    this._startPings(ws);
    try {
      await this._resume();
    } catch {
      ws.close(4000);
      return;
    }
    this.emit("connection", { state: "online" });
    this._resolveReady?.();
  }

  _open(ticket) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.api.wsUrl());
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error("no welcome"));
      }, WELCOME_TIMEOUT_MS);
      // The device's signature over its ticket proves this socket holds the device
      // key, once, as the SDK does: the server then leaves each send's signature to
      // the recipients instead of verifying it again (docs/adr/0004).
      const proof = toBase64url(signSocketProof(this.keystore.device, ticket));
      ws.onopen = () => ws.send(JSON.stringify({ type: "hello", id: "hello", ticket, proof }));
      ws.onmessage = (event) => {
        clearTimeout(timer);
        let frame = null;
        try {
          frame = JSON.parse(event.data);
        } catch {
          frame = null;
        }
        if (frame?.type === "welcome") {
          this.heartbeatMs = Math.max(5, Number(frame.heartbeat) || 20) * 1000;
          resolve(ws);
        } else {
          ws.close();
          reject(new Error("hello refused"));
        }
      };
      ws.onerror = () => {}; // the close event follows and says why
      ws.onclose = (event) => {
        clearTimeout(timer);
        if (event.code === WS_SESSION_REVOKED) reject(revoked(event.reason));
        else if (event.code === WS_RATE_LIMITED) reject(new RateLimitedClose(closeRetryAfter(event.reason)));
        else reject(new Error(`closed ${event.code}`));
      };
    });
  }

  _startPings(ws) {
    clearInterval(this._pingTimer);
    this._lastPong = Date.now();
    // The browser answers the server's pings but never tells the page that the
    // network is gone: our own pings find a dead socket within two heartbeats.
    this._pingTimer = setInterval(() => {
      if (ws !== this.ws) return;
      if (Date.now() - this._lastPong > this.heartbeatMs * 2) {
        ws.close(4000);
        return;
      }
      this._send({ type: "ping", id: `p${++this.frameIds}` });
    }, this.heartbeatMs / 2);
  }

  _onClose(ws, code, reason = "") {
    if (ws !== this.ws) return;
    this.ws = null;
    this.syncing = false;
    clearInterval(this._pingTimer);
    if (code === WS_SESSION_REVOKED) {
      this._fail(revoked(reason));
      return;
    }
    this._retry(code === WS_RATE_LIMITED ? (closeRetryAfter(reason) ?? this.backoff.maximumMs / 1000) : null);
  }

  /** Reconnects after `waitSeconds` when the server said how long, else with back-off. */
  _retry(waitSeconds = null) {
    if (this.closing) return;
    let delay;
    if (waitSeconds) {
      delay = waitSeconds * 1000;
    } else {
      delay = this.backoff.delay(this.attempt);
      this.attempt += 1;
    }
    this.emit("connection", { state: "offline", retryInMs: Math.round(delay) });
    this._retryTimer = setTimeout(() => this._connect(), delay);
  }

  _fail(error) {
    this.failure = error;
    this.closing = true;
    clearInterval(this._pingTimer);
    this._rejectReady?.(error);
    for (const pending of this.outbox.values()) this._status(pending, "failed");
    this.outbox.clear();
    const ended = error instanceof SessionRevoked;
    // suspended: the moderators' reason code (pages show why and how to appeal).
    this.emit("connection", { state: "offline", revoked: ended, suspended: ended ? error.suspended : null });
  }

  async _resume() {
    for (const summary of await this.api.threads()) this.learn(summary);
    this._sync();
    for (const pending of this.outbox.values()) {
      if (pending.envelope === null) this._reseal(pending);
      else this._send(pending.frame());
    }
    for (const threadId of Object.keys(this.keystore.cursors)) this.unacked.add(threadId);
    this._scheduleAcks();
  }

  // -- frames in

  _onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    // Frames are handled one after another: opening a message awaits the directory.
    this.releasing = this.releasing.then(() => this._dispatch(frame)).catch((error) => {
      console.warn("frame not handled", frame.type, error?.name);
    });
  }

  async _dispatch(frame) {
    switch (frame.type) {
      case "pong":
        this._lastPong = Date.now();
        break;
      case "msg":
        await this._onMsg(frame);
        break;
      case "ack":
        await this._onAck(frame);
        break;
      case "error":
        this._onError(frame);
        break;
      case "synced":
        this._onSynced(frame);
        break;
      case "resync":
        this._sync();
        break;
      case "receipt":
        this._onReceipt(frame);
        break;
      case "delivered":
        this._onDelivered(frame);
        break;
      case "typing":
        this.emit("typing", { threadId: frame.thread, account: frame.account });
        break;
      case "thread":
        this.learn(frame.thread);
        this.emit("thread", frame.thread);
        break;
      // The GP panel's live frames (protocol.md), handed to the page as they come.
      case "panel":
        this.emit("panel", frame.panel);
        break;
      case "question":
        this.emit("question", frame.question);
        break;
      case "panel_removed":
        this.emit("panelRemoved", { panelId: frame.panel });
        break;
      default:
        break;
    }
    this._lastPong = Date.now(); // any frame proves the socket alive
  }

  async _onMsg(frame) {
    let sealed;
    try {
      sealed = sealedFromJson(frame);
    } catch {
      return;
    }
    this._saw(sealed.threadId, sealed.seq);
    const [released, gap] = this.cursors.offer(sealed.threadId, sealed.seq, sealed);
    await this._release(released);
    if (gap) this._sync();
  }

  async _release(items) {
    for (const item of items) {
      this._consumed(item.threadId, item.seq);
      if (item.own) continue;
      if (item.senderDevice === this.keystore.deviceId) continue; // send() showed it already
      const message = await this.open(item);
      if (message !== null) this.emit("message", message);
    }
  }

  /** Verify and decrypt one sealed message; null if it is a replay (see module doc). */
  async open(sealed) {
    if (this.isReplay(sealed)) return null;
    const opened = await this.envelopes.open(sealed);
    if (!opened.verified && opened.reason !== "does not decrypt") {
      this.emit("notice", { kind: "trust", threadId: sealed.threadId, account: sealed.senderAccount, reason: opened.reason });
    }
    return {
      threadId: sealed.threadId,
      seq: sealed.seq,
      clientMsgId: sealed.clientMsgId,
      sender: { account: sealed.senderAccount, device: sealed.senderDevice },
      at: sealed.at,
      mine: sealed.senderAccount === this.keystore.accountId,
      status: sealed.senderAccount === this.keystore.accountId ? "sent" : "received",
      payload: opened.payload,
      verified: opened.verified,
    };
  }

  /** True if (sender device, client_msg_id) was seen before at another seq. */
  isReplay(sealed) {
    const seen = this.seen.get(sealed.threadId) ?? new Map();
    this.seen.set(sealed.threadId, seen);
    const key = `${sealed.senderAccount}/${sealed.senderDevice}/${sealed.clientMsgId}`;
    const first = seen.get(key);
    // The same seq again is a duplicate the cursors let through (history() and the live
    // sync can both hand it over); another seq is a replay. Either way: shown once.
    if (first !== undefined) return true;
    seen.set(key, sealed.seq);
    if (seen.size > MAX_SEEN_PER_THREAD) seen.delete(seen.keys().next().value);
    return false;
  }

  _sync() {
    if (!this.connected) return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    this.syncAgain = false;
    let behind = Object.entries(this.cursors.snapshot()).filter(([t, seq]) => seq < (this.lastSeq.get(t) ?? seq + 1));
    if (behind.length > MAX_SYNC_CURSORS) {
      behind = behind.sort().slice(0, MAX_SYNC_CURSORS);
      this.syncAgain = true;
    }
    this._send({ type: "sync", id: `y${++this.frameIds}`, cursors: Object.fromEntries(behind) });
  }

  _onSynced(frame) {
    this.syncing = false;
    for (const [threadId, seq] of Object.entries(frame.threads ?? {})) {
      if (Number.isInteger(seq)) this._saw(threadId, seq);
    }
    if (frame.more || this.syncAgain) {
      this._sync();
    } else if (this.cursors.hasGaps()) {
      this.gapSyncs += 1;
      if (this.gapSyncs <= MAX_GAP_SYNCS) this._sync();
    } else {
      this.gapSyncs = 0;
    }
  }

  _onReceipt(frame) {
    this.emit("receipt", { threadId: frame.thread, account: frame.account, seq: frame.seq });
    this._advance(frame, "read", ["sent", "delivered"]);
  }

  _onDelivered(frame) {
    this._advance(frame, "delivered", ["sent"]);
  }

  /** Own messages of the thread up to frame.seq move from one of `from` to `status`. */
  _advance(frame, status, from) {
    if (frame.account === this.keystore.accountId) return;
    const threadId = frame.thread;
    for (const [clientMsgId, mine] of this.sent.get(threadId) ?? []) {
      if (mine.seq !== null && mine.seq <= frame.seq && from.includes(mine.status)) {
        mine.status = status;
        this.emit("status", { threadId, clientMsgId, status, seq: mine.seq });
      }
    }
  }

  _consumed(threadId, seq) {
    if (seq > (this.keystore.cursors[threadId] ?? 0)) {
      this.keystore.cursors[threadId] = seq;
      this.keystore.saveSoon();
      this.unacked.add(threadId);
      this._scheduleAcks();
    }
  }

  _scheduleAcks() {
    if (this._ackTimer || !this.unacked.size) return;
    // Batched: one cumulative "delivered" per thread per ACK_DELAY_MS.
    this._ackTimer = setTimeout(() => {
      this._ackTimer = null;
      if (!this.connected) return; // re-acked after the reconnect
      for (const threadId of this.unacked) {
        this._send({ type: "delivered", thread: threadId, seq: this.keystore.cursors[threadId] });
      }
      this.unacked.clear();
    }, ACK_DELAY_MS);
  }

  // -- sending

  /** Seal and queue; returns {clientMsgId, message, sent: Promise<seq>}. */
  async send(threadId, payload, { attachments = [] } = {}) {
    if (this.failure) throw this.failure;
    if (!this.started) throw new NotReady("call connect() first");
    const normal = normalizePayload(payload);
    const body = encodePayload(normal);
    const clientMsgId = randomId(16);
    const summary = await this.summary(threadId);
    // Offline (the server unreachable) and a device list not cached yet: the message
    // waits unsealed in the outbox and is sealed, verified first, after the reconnect.
    let envelope = null;
    try {
      await this.participants.verify(summary);
      envelope = await this.envelopes.seal(threadId, clientMsgId, body, summary.participants);
    } catch (error) {
      if (!isOffline(error)) throw error;
    }
    let resolve;
    let reject;
    const sent = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    sent.catch(() => {}); // the page may only listen to "status" events
    const pending = {
      threadId,
      clientMsgId,
      body,
      envelope,
      attachments,
      reseals: 0,
      resolve,
      reject,
      frame() {
        const frame = {
          type: "send",
          id: `s:${clientMsgId}`,
          thread: threadId,
          client_msg_id: clientMsgId,
          envelope: toBase64url(this.envelope),
        };
        if (this.attachments.length) frame.attachments = this.attachments;
        return frame;
      },
    };
    this.outbox.set(clientMsgId, pending);
    const mine = this.sent.get(threadId) ?? new Map();
    mine.set(clientMsgId, { seq: null, status: "pending" });
    this.sent.set(threadId, mine);
    const message = {
      threadId,
      seq: null,
      clientMsgId,
      sender: { account: this.keystore.accountId, device: this.keystore.deviceId },
      at: new Date().toISOString(),
      mine: true,
      status: "pending",
      payload: normal,
      verified: true,
    };
    this.emit("message", message);
    this.emit("status", { threadId, clientMsgId, status: "pending" });
    if (pending.envelope !== null) this._send(pending.frame());
    return { clientMsgId, message, sent };
  }

  async _onAck(frame) {
    const pending = this.outbox.get(String(frame.client_msg_id));
    if (!pending) return;
    this.outbox.delete(pending.clientMsgId);
    const seq = Number(frame.seq);
    const mine = this.sent.get(pending.threadId)?.get(pending.clientMsgId);
    if (mine) {
      mine.seq = seq;
      mine.status = "sent";
    }
    // Our own (device, client_msg_id) at this seq: a later copy elsewhere is a replay.
    this.isReplay({ threadId: pending.threadId, senderAccount: this.keystore.accountId, senderDevice: this.keystore.deviceId, clientMsgId: pending.clientMsgId, seq });
    this.emit("status", { threadId: pending.threadId, clientMsgId: pending.clientMsgId, status: "sent", seq });
    pending.resolve(seq);
    this._saw(pending.threadId, seq);
    const [released] = this.cursors.offer(pending.threadId, seq, { threadId: pending.threadId, seq, own: true });
    await this._release(released);
  }

  _onError(frame) {
    const ref = String(frame.re ?? "");
    const error = ApiError.fromProblem(0, frame);
    if (ref.startsWith("y")) {
      this.syncing = false;
      return;
    }
    const pending = ref.startsWith("s:") ? this.outbox.get(ref.slice(2)) : undefined;
    if (!pending) {
      this.emit("error", error);
      return;
    }
    if (error.code === "recipients_changed" && pending.reseals < MAX_RESEALS) {
      pending.reseals += 1;
      this._reseal(pending);
      return;
    }
    this.outbox.delete(pending.clientMsgId);
    this._status(pending, "failed", error);
  }

  /** Same client_msg_id, a fresh envelope for the thread's current devices. */
  async _reseal(pending) {
    // One sealing at a time per message: two fresh envelopes under one id would make
    // the server refuse the second (duplicate_client_msg_id) after storing the first.
    if (pending.sealing) return;
    pending.sealing = true;
    pending.envelope = null; // never resend the refused one meanwhile
    try {
      const summary = await this.api.thread(pending.threadId);
      this.learn(summary);
      await this.participants.verify(summary);
      pending.envelope = await this.envelopes.seal(pending.threadId, pending.clientMsgId, pending.body, summary.participants, { refresh: true });
    } catch (error) {
      if (isOffline(error)) return; // still pending: sealed at the next reconnect
      this.outbox.delete(pending.clientMsgId);
      this._status(pending, "failed", error);
      return;
    } finally {
      pending.sealing = false;
    }
    this._send(pending.frame());
  }

  _status(pending, status, error = null) {
    const mine = this.sent.get(pending.threadId)?.get(pending.clientMsgId);
    if (mine) mine.status = status;
    this.emit("status", { threadId: pending.threadId, clientMsgId: pending.clientMsgId, status, error });
    if (status === "failed") pending.reject(error ?? new NotReady("not sent"));
  }

  read(threadId, seq) {
    this._send({ type: "read", thread: threadId, seq });
  }

  typing(threadId) {
    this._send({ type: "typing", thread: threadId });
  }

  // -- plumbing

  _saw(threadId, seq) {
    if (seq > (this.lastSeq.get(threadId) ?? 0)) this.lastSeq.set(threadId, seq);
  }

  /** Remember a thread's summary; a changed recipient set is a "notice" event. */
  learn(summary) {
    const threadId = summary.thread_id;
    this._saw(threadId, summary.last_seq ?? 0);
    this.summaries.set(threadId, summary);
    const known = this.keystore.recipients(threadId);
    const now = [...new Set(summary.participants ?? [])].sort();
    this.keystore.rememberRecipients(threadId, now);
    this.keystore.saveSoon();
    if (known !== null && known.join("\n") !== now.join("\n")) {
      this.emit("notice", {
        kind: "recipients_changed",
        threadId,
        added: now.filter((a) => !known.includes(a)),
        removed: known.filter((a) => !now.includes(a)),
      });
    }
    this.cursors.startAt(threadId, 0);
  }

  async summary(threadId) {
    if (!this.summaries.has(threadId)) this.learn(await this.api.thread(threadId));
    return this.summaries.get(threadId);
  }

  _send(frame) {
    if (!this.connected) return false; // outbox and acks are replayed after the reconnect
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

/** The server could not be reached (fetch failed, or it answered 502/503/504). */
function isOffline(error) {
  return error instanceof ApiError && (error.status === 0 || error.status === 502 || error.status === 503 || error.status === 504);
}
