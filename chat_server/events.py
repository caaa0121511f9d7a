"""Fan-out events: what a handler announces to the devices of some accounts.

An event is a small JSON object of ids and numbers, ``t`` naming its kind: never
plaintext, ciphertext or patient data, because it crosses Redis
(:mod:`chat_server.fanout`). The hub hands each to the sink registered for its kind
(``chat_server/ws/frames.py: SINKS``), which turns it into frames for one socket.

Handlers build these, so they live here rather than in ``fanout`` or ``ws``: deciding
code names what happened without importing the broker or the transport.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, NotRequired, TypedDict

# "from" is a keyword, hence the functional form.
MsgEvent = TypedDict(
    "MsgEvent",
    {"t": Literal["msg"], "thread": str, "seq": int, "from": str | None},
)
"""Message ``seq`` of ``thread`` is stored, sent by device ``from`` (which has its ack)."""


class ThreadEvent(TypedDict):
    """The thread's state or participants changed: push its fresh summary."""

    t: Literal["thread"]
    thread: str


class ReceiptEvent(TypedDict):
    t: Literal["receipt"]
    thread: str
    account: str
    seq: int


class DeliveredEvent(TypedDict):
    """A device of ``account`` received ``thread`` up to ``seq`` (a sender's "delivered")."""

    t: Literal["delivered"]
    thread: str
    account: str
    seq: int


class TypingEvent(TypedDict):
    t: Literal["typing"]
    thread: str
    account: str


class RevokeEvent(TypedDict):
    """Close the account's sockets of this session or device (all, if neither)."""

    t: Literal["revoke"]
    session: NotRequired[str | None]
    device: NotRequired[str]
    # A suspension's reason code (never the moderator's note): the close reason says it.
    suspended: NotRequired[str]


class ResyncEvent(TypedDict):
    """Events for these accounts were lost on the way to this process (the broker could
    not publish them): their sockets sync from MongoDB instead."""

    t: Literal["resync"]


class QueueEvent(TypedDict):
    """A panel's queue changed (or its membership: ``removed`` GPs are told they are
    off it): push each socket the view its account may see of the panel."""

    t: Literal["queue"]
    panel: str
    removed: NotRequired[list[str]]


class AnnouncementEvent(TypedDict):
    """A practice mailing was delivered into the patient's announcements thread."""

    t: Literal["announcement"]
    campaign: str
    practice: str


Event = (
    MsgEvent
    | ThreadEvent
    | ReceiptEvent
    | DeliveredEvent
    | TypingEvent
    | RevokeEvent
    | QueueEvent
    | AnnouncementEvent
    | ResyncEvent
)


Deliver = Callable[[list[str], Event], Awaitable[None]]
"""How handlers announce: an event to every device of the given accounts (the hub)."""
