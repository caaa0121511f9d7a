"""Any frame on a real socket: an error frame (the socket stays open) or a documented close.

Never 1011, never a dead read loop: after every frame a ``ping`` with its own id must
still get its ``pong``. Envelopes go through the real ``send`` path of an open thread.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import count
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.clock import ManualClock
from chat_server.errors import ErrorCode
from chat_server.mail import MemoryOutbox
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import from_base64url, to_base64url
from tests.actors import Actor
from tests.fuzz.inputs import FUZZ, JSON_VALUES, json_documents, mutations
from tests.integration.test_key_directory import _linked_pair as linked_pair
from tests.messaging import Device, device, new_cmid

Client = TestClient[web.Request, web.Application]
Frame = dict[str, Any]

FRAME_TYPES = ["hello", "ping", "sync", "send", "delivered", "read", "typing"]
FIELDS = ["type", "id", "thread", "seq", "cursors", "client_msg_id", "envelope", "ticket"]
FRAME_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# What docs/protocol.md lets an invalid frame answer, hello_already_sent for a second
# hello and duplicate_client_msg_id for an id sent again with another envelope.
FRAME_ERRORS = {
    ErrorCode.MALFORMED_FRAME,
    ErrorCode.UNKNOWN_FRAME_TYPE,
    ErrorCode.NOT_FOUND,
    ErrorCode.THREAD_CLOSED,
    ErrorCode.RECIPIENTS_CHANGED,
    ErrorCode.INVALID_ENVELOPE,
    ErrorCode.HELLO_ALREADY_SENT,
    ErrorCode.DUPLICATE_CLIENT_MSG_ID,
    ErrorCode.RATE_LIMITED,
}
BASE64URL = re.compile(r"[A-Za-z0-9_-]{1,400}")
_probes = count()


def _frames() -> st.SearchStrategy[str]:
    """Frame-shaped objects with anything in their fields, and text that is no frame."""
    shaped = st.fixed_dictionaries(
        {"type": st.sampled_from(FRAME_TYPES) | JSON_VALUES},
        optional={
            "id": st.from_regex(FRAME_ID, fullmatch=True) | JSON_VALUES,
            **dict.fromkeys(FIELDS[2:], JSON_VALUES),
        },
    )
    return st.one_of(
        shaped.map(lambda frame: json.dumps(frame, ensure_ascii=True)),
        json_documents(FIELDS),
        st.text(max_size=200),
    )


def _sent_id(text: str) -> str | None:
    """The ``id`` the protocol promises an answer to (docs/protocol.md)."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return None
    value = frame.get("id") if isinstance(frame, dict) else None
    if isinstance(value, str) and FRAME_ID.fullmatch(value):
        return value
    return None


async def _answers(ws: aiohttp.ClientWebSocketResponse) -> list[Frame]:
    """Everything the server says until it answers a fresh ping; fails on a close."""
    probe = f"probe.{next(_probes)}"
    await ws.send_json({"type": "ping", "id": probe})
    frames: list[Frame] = []
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type is WSMsgType.TEXT, ("the socket closed", msg.type, msg.data)
        frame: Frame = json.loads(msg.data)
        if frame.get("re") == probe:
            assert frame["type"] == "pong"
            return frames
        frames.append(frame)


def _check_errors(frames: list[Frame], allowed: set[ErrorCode]) -> None:
    for frame in frames:
        if frame["type"] == "error":
            assert frame["code"] in allowed, frame
            assert {"re", "code", "title"} <= set(frame)


@dataclass
class Conversation:
    ann: Actor
    doctor: Actor
    phone: Device  # ann's, connected
    thread_id: str
    everyone: list[VerifiedDevice]


@pytest.fixture
async def conversation(client: Client, outbox: MemoryOutbox) -> Conversation:
    doctor, ann = await linked_pair(client, outbox)
    desk = await device(doctor, "desk")
    phone = await device(ann, "phone")
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    thread = await ann.call("POST", "/api/v1/threads", body, expect=201)
    await doctor.call("POST", f"/api/v1/threads/{thread['thread_id']}/accept")
    await phone.connect()
    everyone = await phone.verified_devices(
        {ann.account_id: ann.root.public_key, doctor.account_id: doctor.root.public_key}
    )
    assert {d.device_id for d in everyone} == {"phone", desk.device_id}
    return Conversation(ann, doctor, phone, str(thread["thread_id"]), everyone)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
async def test_any_frame_on_an_open_socket_is_answered_and_the_socket_lives(
    conversation: Conversation, clock: ManualClock, data: st.DataObject
) -> None:
    ws = conversation.phone.ws
    assert ws is not None
    text = data.draw(_frames(), label="frame")
    # Keeps the rate limits from answering for everything: sends, and typing frames
    # (one comes back every 2 s; over its budget a typing frame gets no answer at all).
    clock.advance(2)
    await ws.send_str(text)
    frames = await _answers(ws)
    _check_errors(frames, FRAME_ERRORS)
    sent_id = _sent_id(text)
    answers = [frame for frame in frames if frame.get("re") is not None]
    assert [frame["re"] for frame in answers] == ([sent_id] if sent_id else [])


@settings(FUZZ, max_examples=60)
@given(data=st.data())
async def test_any_first_frame_is_an_error_frame_or_a_4001_close(
    client: Client, data: st.DataObject
) -> None:
    text = data.draw(_frames() | st.binary(min_size=1, max_size=64), label="first frame")
    ws = await client.ws_connect("/ws")
    try:
        if isinstance(text, bytes):
            await ws.send_bytes(text)
        else:
            await ws.send_str(text)
        msg = await ws.receive(timeout=10)
        if msg.type is WSMsgType.TEXT:
            frame = json.loads(msg.data)
            assert frame["type"] == "error", frame
            assert frame["code"] in {ErrorCode.MALFORMED_FRAME, ErrorCode.UNKNOWN_FRAME_TYPE}
        else:
            assert msg.type is WSMsgType.CLOSE, (msg.type, msg.data)
            assert msg.data == (1003 if isinstance(text, bytes) else 4001)
    finally:
        await ws.close()


@pytest.fixture
def sealed(conversation: Conversation) -> tuple[str, bytes]:
    cmid = new_cmid()
    envelope = conversation.phone.seal(conversation.thread_id, cmid, "hello", conversation.everyone)
    return cmid, from_base64url(envelope)


@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_a_mutated_envelope_is_refused_over_the_wire(
    conversation: Conversation,
    sealed: tuple[str, bytes],
    clock: ManualClock,
    data: st.DataObject,
) -> None:
    cmid, envelope = sealed
    mutated = data.draw(mutations(envelope), label="envelope")
    clock.advance(1)
    answer = await conversation.phone.request(
        {
            "type": "send",
            "thread": conversation.thread_id,
            "client_msg_id": cmid,
            "envelope": to_base64url(mutated),
        }
    )
    assert answer["type"] == "error", answer
    assert answer["code"] in {ErrorCode.INVALID_ENVELOPE, ErrorCode.RECIPIENTS_CHANGED}
    summary = await conversation.ann.call("GET", f"/api/v1/threads/{conversation.thread_id}")
    assert summary["last_seq"] == 0  # nothing was stored


@settings(FUZZ, max_examples=80)
@given(text=st.text(min_size=1, max_size=300) | st.from_regex(BASE64URL, fullmatch=True))
async def test_an_envelope_that_is_not_base64url_of_one_is_invalid(
    conversation: Conversation, clock: ManualClock, text: str
) -> None:
    clock.advance(1)
    answer = await conversation.phone.request(
        {
            "type": "send",
            "thread": conversation.thread_id,
            "client_msg_id": new_cmid(),
            "envelope": text,
        }
    )
    assert (answer["type"], answer["code"]) == ("error", ErrorCode.INVALID_ENVELOPE), answer


async def test_the_unmutated_envelope_is_accepted(
    conversation: Conversation, sealed: tuple[str, bytes]
) -> None:
    """The sample the mutations start from is good: they are refused for the change."""
    cmid, envelope = sealed
    ack = await conversation.phone.request(
        {
            "type": "send",
            "thread": conversation.thread_id,
            "client_msg_id": cmid,
            "envelope": to_base64url(envelope),
        }
    )
    assert (ack["type"], ack["seq"], ack["duplicate"]) == ("ack", 1, False)
