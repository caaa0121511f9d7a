"""Per-thread cursors: the highest seq up to which this device has every message.

Seqs are contiguous per thread (docs/protocol.md), so a message with seq ``n + 2``
after ``n`` proves ``n + 1`` was missed. ``Cursors.offer`` releases messages strictly
in seq order, drops duplicates (a replay after reconnect, a live push racing a
sync) and holds back early arrivals until the gap is filled by a ``sync``. Nothing
is released twice and nothing is skipped: this is the "no gap, no duplicate"
guarantee the SDK gives the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

__all__ = ["Cursors"]

T = TypeVar("T")

MAX_HELD_PER_THREAD = 10_000


class Cursors(Generic[T]):
    def __init__(self, initial: Mapping[str, int] | None = None) -> None:
        self._position: dict[str, int] = {t: int(s) for t, s in (initial or {}).items()}
        self._held: dict[str, dict[int, T]] = {}

    def position(self, thread_id: str) -> int:
        return self._position.get(thread_id, 0)

    def known(self, thread_id: str) -> bool:
        return thread_id in self._position

    def start_at(self, thread_id: str, seq: int) -> None:
        """Begin a thread this device has never read at ``seq`` (skip older history)."""
        if thread_id not in self._position:
            self._position[thread_id] = seq

    def offer(self, thread_id: str, seq: int, item: T) -> tuple[list[T], bool]:
        """(items now releasable in order, whether a gap is waiting for a sync)."""
        position = self._position.setdefault(thread_id, 0)
        held = self._held.setdefault(thread_id, {})
        if seq <= position or seq in held:
            return [], bool(held)
        if seq != position + 1:
            if len(held) < MAX_HELD_PER_THREAD:
                held[seq] = item
            return [], True
        released = [item]
        position = seq
        while position + 1 in held:
            position += 1
            released.append(held.pop(position))
        self._position[thread_id] = position
        if not held:
            del self._held[thread_id]
        return released, thread_id in self._held

    def has_gaps(self) -> bool:
        return bool(self._held)

    def snapshot(self) -> dict[str, int]:
        return dict(self._position)
