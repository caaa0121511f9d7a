"""The WebSocket frames between a device and the server, as types (docs/protocol.md).

One ``TypedDict`` per frame, keyed by its ``type``: the server's parser returns these
after validation, its handlers take and return them, and the SDK builds and reads the
same ones. Pure typing, no crypto and no I/O, so it is server-importable: the server
and the SDK share the shapes without the server importing the SDK.

``id`` is optional on every client frame; an answer echoes it as ``re``. Fields a
sender may leave out are ``NotRequired``.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# -- client -> server --------------------------------------------------------------------


class _ClientFrame(TypedDict):
    id: NotRequired[str | None]


class HelloFrame(_ClientFrame):
    type: Literal["hello"]
    ticket: str
    # The device's signature over the ticket (e2e_crypto/socket_proof_public.py), base64url.
    proof: NotRequired[str]


class PingFrame(_ClientFrame):
    type: Literal["ping"]


class SyncFrame(_ClientFrame):
    type: Literal["sync"]
    cursors: NotRequired[dict[str, int]]  # the server loads an absent one as {}


class SendFrame(_ClientFrame):
    type: Literal["send"]
    thread: str
    client_msg_id: str
    envelope: str  # unpadded base64url
    attachments: NotRequired[list[str]]


class DeliveredFrame(_ClientFrame):
    type: Literal["delivered"]
    thread: str
    seq: int


class ReadFrame(_ClientFrame):
    type: Literal["read"]
    thread: str
    seq: int


class TypingFrame(_ClientFrame):
    type: Literal["typing"]
    thread: str


ClientFrame = (
    HelloFrame | PingFrame | SyncFrame | SendFrame | DeliveredFrame | ReadFrame | TypingFrame
)

# -- server -> client: answers (they carry ``re`` when the client frame had an id) -------


class _Answer(TypedDict):
    re: NotRequired[str | None]


class WelcomeFrame(_Answer):
    type: Literal["welcome"]
    account_id: str
    device_id: str | None
    heartbeat: float
    notice: str


class PongFrame(_Answer):
    type: Literal["pong"]


class AckFrame(_Answer):
    type: Literal["ack"]
    thread: str
    seq: int
    client_msg_id: str
    duplicate: bool


class SyncedFrame(_Answer):
    type: Literal["synced"]
    threads: dict[str, int]  # thread id -> last seq
    more: bool


class OkFrame(_Answer):
    type: Literal["ok"]


AnswerFrame = WelcomeFrame | PongFrame | AckFrame | SyncedFrame | OkFrame

# -- server -> client: pushes ------------------------------------------------------------


class Sender(TypedDict):
    account: str
    device: str


class MsgFrame(TypedDict):
    type: Literal["msg"]
    thread: str
    seq: int
    client_msg_id: str
    sender: Sender
    kind: str  # "message" or "system"
    envelope: str  # unpadded base64url
    at: str  # RFC 3339, milliseconds


class ThreadFrame(TypedDict):
    type: Literal["thread"]
    thread: dict[str, object]  # the thread's public summary, as GET /threads/{id}


class ReceiptFrame(TypedDict):
    type: Literal["receipt"]
    thread: str
    account: str
    seq: int  # read up to


class PeerDeliveredFrame(TypedDict):
    """A device of ``account`` received the thread up to ``seq`` (its ``delivered``)."""

    type: Literal["delivered"]
    thread: str
    account: str
    seq: int


class PeerTypingFrame(TypedDict):
    """Another participant is typing (the server's ``typing``, not the client's)."""

    type: Literal["typing"]
    thread: str
    account: str


class ResyncFrame(TypedDict):
    type: Literal["resync"]


class ErrorFrame(TypedDict):
    type: Literal["error"]
    re: str | None
    code: str
    title: str
    detail: NotRequired[str]
    fields: NotRequired[dict[str, list[str]]]
    retry_after: NotRequired[float]
    devices: NotRequired[list[dict[str, str]]]  # recipients_changed: the current devices


class PanelStatsFrame(TypedDict):
    """A panel's live figures, for its online GPs (GET /panels/{id}/stats)."""

    type: Literal["panel"]
    panel: dict[str, object]


class QuestionFrame(TypedDict):
    """A question's live status, for its patient and the GP holding it
    (GET /panel-questions/{id}): state, place in the queue, wait estimate."""

    type: Literal["question"]
    question: dict[str, object]


class PanelRemovedFrame(TypedDict):
    """This account was removed from the panel: its claims went back to the queue."""

    type: Literal["panel_removed"]
    panel: str


class AnnouncementFrame(TypedDict):
    """A practice mailing is waiting: fetch it with GET /api/v1/announcements."""

    type: Literal["announcement"]
    campaign_id: str
    practice_id: str


PushFrame = (
    MsgFrame
    | ThreadFrame
    | ReceiptFrame
    | PeerDeliveredFrame
    | PeerTypingFrame
    | ResyncFrame
    | ErrorFrame
    | PanelStatsFrame
    | QuestionFrame
    | PanelRemovedFrame
    | PeerTypingFrame
    | ResyncFrame
    | ErrorFrame
    | AnnouncementFrame
)
ServerFrame = AnswerFrame | PushFrame
