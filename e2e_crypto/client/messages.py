"""A message as the server hands it over (``SealedMessage``) and as the app gets it
(``ReceivedMessage``, verified and decrypted).

The server's fields (thread, seq, sender, ``at``) route and order a message; they are
not trusted for its content. Opening checks that the envelope's signed header names
the same thread, client message id and sender device (envelopes.py), so a server
that relabels a message cannot make it read as someone else's or as another
thread's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from e2e_crypto.client.payloads import Payload
from e2e_crypto.codec import check_id
from e2e_crypto.errors import MalformedData
from e2e_crypto.wire import from_base64url

__all__ = ["ReceivedMessage", "SealedMessage", "Unreadable"]


@dataclass(frozen=True, slots=True)
class SealedMessage:
    """One stored message: the ``msg`` frame's fields, envelope still encrypted."""

    thread_id: str
    seq: int
    client_msg_id: str
    sender_account: str
    sender_device: str
    kind: str
    envelope: bytes = field(repr=False)
    at: datetime

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SealedMessage:
        """Parse a ``msg`` frame or a history entry; raises MalformedData."""
        try:
            sender = doc["sender"]
            seq = doc["seq"]
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise MalformedData("seq must be a positive integer")
            at = datetime.fromisoformat(str(doc["at"]))
            if at.utcoffset() is None:
                raise MalformedData("at must carry a timezone")
            return cls(
                thread_id=check_id(doc["thread"], "thread id"),
                seq=seq,
                client_msg_id=check_id(doc["client_msg_id"], "client message id"),
                sender_account=check_id(sender["account"], "sender account"),
                sender_device=check_id(sender["device"], "sender device"),
                kind=str(doc.get("kind", "message")),
                envelope=from_base64url(doc["envelope"]),
                at=at,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, MalformedData):
                raise
            raise MalformedData(f"not a message object: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Stands in for the payload of a message that did not verify or decrypt.

    Its content is never shown; ``reason`` is a short, fixed phrase for logs
    (e.g. ``"does not decrypt"``, ``"sender's root key changed"``).
    """

    t: ClassVar[str] = "unreadable"
    reason: str


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A message delivered to the app. ``payload`` is ``Unreadable`` if it failed."""

    thread_id: str
    seq: int
    sender_account: str
    sender_device: str
    client_msg_id: str
    payload: Payload | Unreadable
    at: datetime
    kind: str = "message"

    @property
    def readable(self) -> bool:
        return not isinstance(self.payload, Unreadable)
