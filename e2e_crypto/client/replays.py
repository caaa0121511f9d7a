"""Replays: the same envelope served again at a new seq.

An envelope's signed header names its thread, client message id and sender device
(docs/protocol.md §4), so a server cannot make an old message read as another one,
but it can store the same envelope again under a new seq: the copy verifies and
decrypts like the original, and a naive client would show "yes, go ahead" twice,
the second time as an answer to a later question. Cursors do not catch it (the seq
is new); this does: within a thread, the first seq at which a (sender device,
client message id) arrived is the message, any other seq carrying the same pair is
a replay and is dropped (docs/protocol.md, "Client → server frames": clients MUST).

Memory is bounded (the oldest pairs are forgotten first), and it lasts as long as
the client object: a replay of a message older than that window, or across a
restart of the app, is not recognised.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

__all__ = ["ReplayGuard"]

REMEMBERED: Final = 100_000


class ReplayGuard:
    def __init__(self, capacity: int = REMEMBERED) -> None:
        self._capacity = capacity
        self._first_seq: OrderedDict[tuple[str, str, str], int] = OrderedDict()

    def is_replay(self, thread_id: str, sender_device: str, client_msg_id: str, seq: int) -> bool:
        """True if this pair already arrived in this thread at another seq."""
        key = (thread_id, sender_device, client_msg_id)
        first = self._first_seq.get(key)
        if first is not None:
            # The same seq again is a resend of the message, not a replay: the
            # cursors drop it; only a different seq is the server's doing.
            return first != seq
        self._first_seq[key] = seq
        if len(self._first_seq) > self._capacity:
            self._first_seq.popitem(last=False)
        return False
