"""Messaging frames (``send``, ``sync``, ``delivered``, ``read``, ``typing``) and the
fan-out sinks that turn ids-only events into frames for each device.

A ``msg`` event names (thread, seq); the sink loads that message once per process
(the store keeps recent ones in memory) and pushes the same serialised frame to every
local socket of the account. ``thread`` events push the thread's fresh summary.

Sinks trust no event: one from another process crossed Redis, and whoever can
publish there could forge it (THREAT_MODEL.md). Before pushing anything, a sink checks
against MongoDB (through the thread gate's short cache of open threads) that the
socket's account takes part in the thread the event names, and for a receipt, a
``delivered`` or a typing notice that the account it names does too; a ``msg`` event
pushes only a message stored in that thread at that position. A forged event that
fails these checks pushes nothing and is logged (its kind only).

The handlers and sinks are registered by frame type and event kind in
``chat_server/ws/frames.py``.
"""

from __future__ import annotations

import logging

import marshmallow as ma

from chat_server import events
from chat_server.errors import NotFound
from chat_server.events import (
    Event,
    MsgEvent,
    ReceiptEvent,
    ResyncEvent,
    ThreadEvent,
    TypingEvent,
)
from chat_server.model.threads import Thread
from chat_server.presenters import message_frame, thread_summary
from chat_server.principal import Principal
from chat_server.schemas import id_field, is_id
from chat_server.storage.messages import StoredMessage
from chat_server.ws.context import FrameContext
from chat_server.ws.hub import Connection, frame_text
from chat_server.ws.router import DropFrame, FrameSchema, fast_loader
from e2e_crypto.frames import (
    AckFrame,
    DeliveredFrame,
    ReadFrame,
    SendFrame,
    SyncedFrame,
    SyncFrame,
    TypingFrame,
)
from e2e_crypto.wire import MAX_ENVELOPE_B64_CHARS

log = logging.getLogger(__name__)

MAX_SEQ = 2**53
MAX_ATTACHMENTS = 16  # attachment ids one message may claim
SEQ = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=0, max=MAX_SEQ))


class SendSchema(FrameSchema):
    thread = id_field(required=True)
    client_msg_id = id_field(required=True)
    envelope = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=MAX_ENVELOPE_B64_CHARS)
    )
    # In clear because the reference inside the envelope is encrypted: the uploads
    # this message refers to, which the purge must then keep. No default, so a frame
    # without it loads the same through the fast path and the schema.
    attachments = ma.fields.List(id_field(), validate=ma.validate.Length(max=MAX_ATTACHMENTS))


class SyncSchema(FrameSchema):
    cursors = ma.fields.Dict(
        keys=id_field(),
        values=ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0, max=2**53)),
        load_default=dict,
        validate=ma.validate.Length(max=1000),
    )


class PositionSchema(FrameSchema):
    thread = id_field(required=True)
    seq = SEQ


class TypingSchema(FrameSchema):
    thread = id_field(required=True)


def _is_envelope_text(value: object) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_ENVELOPE_B64_CHARS


def _is_seq(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_SEQ


# Once per message each; the schemas above stay the definition (and give the errors).
FAST_SEND = fast_loader("send", thread=is_id, client_msg_id=is_id, envelope=_is_envelope_text)
FAST_POSITION = {
    kind: fast_loader(kind, thread=is_id, seq=_is_seq) for kind in ("delivered", "read")
}


MESSAGE_TEXTS = 2048  # serialised msg frames kept per process


def principal(conn: Connection) -> Principal:
    who = conn.state["principal"]
    assert isinstance(who, Principal)
    return who


async def send(ctx: FrameContext, conn: Connection, frame: SendFrame) -> AckFrame:
    stored = await ctx.intake.send(
        principal(conn),
        frame["thread"],
        frame["client_msg_id"],
        frame["envelope"],
        frame.get("attachments", ()),
        device_proven=conn.state.get("device_proven") is True,
    )
    return {
        "type": "ack",
        "thread": stored.thread_id,
        "seq": stored.seq,
        "client_msg_id": stored.client_msg_id,
        "duplicate": stored.duplicate,
    }


async def sync(ctx: FrameContext, conn: Connection, frame: SyncFrame) -> SyncedFrame:
    # The schema loads an absent "cursors" as {}.
    page = await ctx.sync.sync(principal(conn), frame["cursors"])
    for message in page.messages:
        if not await conn.push_waiting(message_frame(message)):
            break
    return {"type": "synced", "threads": page.last_seqs, "more": page.more}


async def delivered(ctx: FrameContext, conn: Connection, frame: DeliveredFrame) -> None:
    await ctx.receipts.delivered(principal(conn), frame["thread"], frame["seq"])


async def read(ctx: FrameContext, conn: Connection, frame: ReadFrame) -> None:
    await ctx.receipts.read(principal(conn), frame["thread"], frame["seq"])


async def typing(ctx: FrameContext, conn: Connection, frame: TypingFrame) -> None:
    if not await ctx.receipts.typing(principal(conn), frame["thread"]):
        raise DropFrame()


async def _thread_of(ctx: FrameContext, conn: Connection, event: Event) -> Thread | None:
    """The thread the event names, if this socket's account takes part in it."""
    thread_id = event.get("thread")
    if isinstance(thread_id, str):
        try:
            return await ctx.gate.open_thread(principal(conn), thread_id)
        except NotFound:
            pass
    _refused(event)
    return None


async def _position(
    ctx: FrameContext, conn: Connection, event: ReceiptEvent | events.DeliveredEvent
) -> tuple[str, str, int] | None:
    """(thread, account, seq) of a receipt or ``delivered`` event whose account and
    this socket's both take part in the thread; None for anything else."""
    thread = await _thread_of(ctx, conn, event)
    if thread is None:
        return None
    account, seq = event.get("account"), event.get("seq")
    if account not in thread.participants or not _is_seq(seq):
        _refused(event)
        return None
    return thread.id, str(account), int(seq)


def _refused(event: Event) -> None:
    # The kind only: the ids are what the forger chose, and name people.
    log.warning("fan-out event refused", extra={"fields": {"event": str(event.get("t"))}})


async def on_msg(ctx: FrameContext, conn: Connection, event: MsgEvent) -> None:
    if conn.device_id is not None and conn.device_id == event.get("from"):
        return
    thread = await _thread_of(ctx, conn, event)
    if thread is None:
        return
    seq = event.get("seq")
    if not _is_seq(seq):
        # An event this process cannot read (another version's, say): the hub tells
        # the socket to resync, which reads MongoDB with the socket's own access.
        raise ValueError("msg event without a valid seq")
    key = (thread.id, int(seq))
    text = ctx.message_texts.get(key)
    if text is None:
        # By position in this thread: only a message stored there can be pushed.
        message = await ctx.sync.message(*key)
        if message is None:
            _refused(event)
            return
        text = _kept_text(ctx, key, message)
    conn.push_text(text)


def on_msg_at_once(ctx: FrameContext, conn: Connection, event: MsgEvent) -> bool:
    """:func:`on_msg` without awaiting, in the common case (the thread in the gate's
    cache, the message stored by this process lately); the same checks. False: it
    pushed nothing, and :func:`on_msg` takes the event."""
    if conn.device_id is not None and conn.device_id == event.get("from"):
        return True
    thread_id, seq = event.get("thread"), event.get("seq")
    if type(thread_id) is not str or not _is_seq(seq):
        return False
    thread = ctx.gate.open_thread_at_once(principal(conn), thread_id)
    if thread is None:
        return False
    key = (thread.id, int(seq))
    text = ctx.message_texts.get(key)
    if text is None:
        message = ctx.sync.recent_message(*key)
        if message is None:
            return False
        text = _kept_text(ctx, key, message)
    conn.push_text(text)
    return True


def _kept_text(ctx: FrameContext, key: tuple[str, int], message: StoredMessage) -> str:
    """The message's ``msg`` frame text, kept for the process's other sockets."""
    frames = ctx.message_texts
    text = frames[key] = msg_text(message)
    if len(frames) > MESSAGE_TEXTS:
        frames.popitem(last=False)
    return text


def msg_text(message: StoredMessage) -> str:
    """The ``msg`` frame's JSON, once per message and process."""
    return frame_text(message_frame(message))


async def on_thread(ctx: FrameContext, conn: Connection, event: ThreadEvent) -> None:
    ctx.gate.forget(str(event.get("thread")))
    try:
        summary = await ctx.sync.summary(principal(conn), str(event.get("thread")))
    except NotFound:  # no longer a participant: nothing to push
        return
    conn.push({"type": "thread", "thread": thread_summary(summary)})


async def on_receipt(ctx: FrameContext, conn: Connection, event: ReceiptEvent) -> None:
    position = await _position(ctx, conn, event)
    if position is not None:
        thread, account, seq = position
        conn.push({"type": "receipt", "thread": thread, "account": account, "seq": seq})


async def on_delivered(ctx: FrameContext, conn: Connection, event: events.DeliveredEvent) -> None:
    position = await _position(ctx, conn, event)
    if position is not None:
        thread, account, seq = position
        conn.push({"type": "delivered", "thread": thread, "account": account, "seq": seq})


def on_delivered_at_once(ctx: FrameContext, conn: Connection, event: events.DeliveredEvent) -> bool:
    """:func:`on_delivered` without awaiting, when the thread is in the gate's cache;
    the same checks. False: it pushed nothing, and :func:`on_delivered` decides."""
    thread_id, account, seq = event.get("thread"), event.get("account"), event.get("seq")
    if type(thread_id) is not str or not _is_seq(seq):
        return False
    thread = ctx.gate.open_thread_at_once(principal(conn), thread_id)
    if thread is None or account not in thread.participants:
        return False
    conn.push({"type": "delivered", "thread": thread.id, "account": str(account), "seq": int(seq)})
    return True


async def on_typing(ctx: FrameContext, conn: Connection, event: TypingEvent) -> None:
    thread = await _thread_of(ctx, conn, event)
    if thread is None:
        return
    account = event.get("account")
    if account not in thread.participants:
        _refused(event)
        return
    conn.push({"type": "typing", "thread": thread.id, "account": str(account)})


async def on_resync(ctx: FrameContext, conn: Connection, event: ResyncEvent) -> None:
    conn.push({"type": "resync"})
