"""Things that happen in threads besides messages, delivered on ``Connection.events()``.

They are hints for a user interface (read marks, typing, state changes); none of
them is needed for correctness, so when the app does not read them the oldest are
dropped rather than letting memory grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from e2e_crypto.client.api import ThreadSummary
from e2e_crypto.frames import PeerTypingFrame, ReceiptFrame, ThreadFrame

__all__ = ["Event", "Receipt", "RecipientsNotice", "ThreadChanged", "TrustAlert", "Typing"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """``account`` has read ``thread_id`` up to ``seq``."""

    thread_id: str
    account: str
    seq: int

    @classmethod
    def from_frame(cls, frame: ReceiptFrame) -> Receipt:
        return cls(str(frame["thread"]), str(frame["account"]), int(frame["seq"]))


@dataclass(frozen=True, slots=True)
class Typing:
    thread_id: str
    account: str

    @classmethod
    def from_frame(cls, frame: PeerTypingFrame) -> Typing:
        return cls(str(frame["thread"]), str(frame["account"]))


@dataclass(frozen=True, slots=True)
class ThreadChanged:
    """A thread's public summary after a state change (accepted, closed, ...)."""

    thread: ThreadSummary

    @classmethod
    def from_frame(cls, frame: ThreadFrame) -> ThreadChanged:
        return cls(ThreadSummary.from_json(frame["thread"]))


@dataclass(frozen=True, slots=True)
class TrustAlert:
    """A sender's identity could not be verified (e.g. its root key changed); the
    message itself was delivered as ``Unreadable``. Show it to the user."""

    thread_id: str
    seq: int
    account: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecipientsNotice:
    """The set of accounts a thread's messages are encrypted to changed since this
    device last saw it (the set is saved in the Keystore, so this holds across
    restarts). Show it in the thread ("X joined", "Y left"), as messengers do: nobody
    is added to a conversation silently. Never dropped from ``events()``."""

    thread_id: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


Event = Receipt | Typing | ThreadChanged | TrustAlert | RecipientsNotice
