"""Messaging frames (``send``, ``sync``, ``delivered``, ``read``, ``typing``) and the
fan-out sinks that turn ids-only events into frames for each device.

A ``msg`` event names (thread, seq); the sink loads that message once per process
(the store keeps recent ones in memory) and pushes the same serialised frame to every
local socket of the account. ``thread`` events push the thread's fresh summary.
"""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma

from chat_server.errors import NotFound
from chat_server.fanout import Event
from chat_server.handlers.threads import ThreadService
from chat_server.presenters import message_frame, thread_summary
from chat_server.principal import Principal
from chat_server.schemas import id_field, is_id
from chat_server.ws.hub import Connection, Frame, Hub
from chat_server.ws.router import DropFrame, FrameRouter, FrameSchema, fast_loader
from e2e_crypto.wire import MAX_ENVELOPE_B64_CHARS

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


def install(router: FrameRouter, hub: Hub, threads: ThreadService) -> None:
    def principal(conn: Connection) -> Principal:
        who = conn.state["principal"]
        assert isinstance(who, Principal)
        return who

    async def send(conn: Connection, frame: dict[str, Any]) -> Frame:
        stored = await threads.send(
            principal(conn),
            frame["thread"],
            frame["client_msg_id"],
            frame["envelope"],
            frame.get("attachments", ()),
        )
        return {
            "type": "ack",
            "thread": stored.thread_id,
            "seq": stored.seq,
            "client_msg_id": stored.client_msg_id,
            "duplicate": stored.duplicate,
        }

    async def sync(conn: Connection, frame: dict[str, Any]) -> Frame:
        page = await threads.sync(principal(conn), frame["cursors"])
        for message in page.messages:
            if not await conn.push_waiting(message_frame(message)):
                break
        return {"type": "synced", "threads": page.last_seqs, "more": page.more}

    async def delivered(conn: Connection, frame: dict[str, Any]) -> None:
        await threads.delivered(principal(conn), frame["thread"], frame["seq"])

    async def read(conn: Connection, frame: dict[str, Any]) -> None:
        await threads.read(principal(conn), frame["thread"], frame["seq"])

    async def typing(conn: Connection, frame: dict[str, Any]) -> None:
        if not await threads.typing(principal(conn), frame["thread"]):
            raise DropFrame()

    # One serialisation per message and process, shared by every local socket.
    frames: dict[tuple[str, int], str] = {}

    async def on_msg(conn: Connection, event: Event) -> None:
        if conn.device_id is not None and conn.device_id == event.get("from"):
            return
        key = (str(event.get("thread")), int(event.get("seq", 0)))
        text = frames.get(key)
        if text is None:
            message = await threads.message(*key)
            if message is None:
                return
            text = json.dumps(message_frame(message), separators=(",", ":"))
            frames[key] = text
            if len(frames) > 2048:
                frames.pop(next(iter(frames)))
        conn.push_text(text)

    async def on_thread(conn: Connection, event: Event) -> None:
        threads.forget(str(event.get("thread")))
        try:
            summary = await threads.summary(principal(conn), str(event.get("thread")))
        except NotFound:  # no longer a participant: nothing to push
            return
        conn.push({"type": "thread", "thread": thread_summary(summary)})

    async def on_receipt(conn: Connection, event: Event) -> None:
        conn.push(
            {
                "type": "receipt",
                "thread": event.get("thread"),
                "account": event.get("account"),
                "seq": event.get("seq"),
            }
        )

    async def on_typing(conn: Connection, event: Event) -> None:
        conn.push(
            {"type": "typing", "thread": event.get("thread"), "account": event.get("account")}
        )

    router.add("send", SendSchema(), send, fast=FAST_SEND)
    router.add("sync", SyncSchema(), sync)
    router.add("delivered", PositionSchema(), delivered, fast=FAST_POSITION["delivered"])
    router.add("read", PositionSchema(), read, fast=FAST_POSITION["read"])
    router.add("typing", TypingSchema(), typing)
    hub.add_sink("msg", on_msg)
    hub.add_sink("thread", on_thread)
    hub.add_sink("receipt", on_receipt)
    hub.add_sink("typing", on_typing)
