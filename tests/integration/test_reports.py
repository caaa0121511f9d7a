"""Verifiable abuse reports: the server checks a revealed message against its stamp
and queues the report, with the verified sender or marked unverifiable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from e2e_crypto.envelope import open_message
from e2e_crypto.wire import from_base64url, to_base64url
from tests.actors import actor
from tests.integration.test_care_threads import _setup
from tests.integration.test_sanctions import _moderator
from tests.messaging import Device, by_device

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


def _revealed(
    device: Device, frame: dict[str, Any], senders: dict[Any, Any]
) -> tuple[bytes, bytes]:
    """What the recipient's client decrypts: the body and its franking key."""
    opened = open_message(
        from_base64url(frame["envelope"]),
        opener=device.keys,
        sender=senders[(frame["sender"]["account"], frame["sender"]["device"])],
        thread_id=frame["thread"],
        client_msg_id=frame["client_msg_id"],
    )
    return opened.body, opened.franking_key


def _report(thread: str, seq: int, body: bytes, key: bytes, category: str = "harassment") -> Any:
    return {
        "thread": thread,
        "seq": seq,
        "body": to_base64url(body),
        "franking_key": to_base64url(key),
        "category": category,
    }


async def test_genuine_forged_and_tampered_reports(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    doctor, ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    senders = by_device(everyone)
    await ann_phone.send_text(thread_id, "You are useless, I will find you", everyone)
    await ann_phone.send_text(thread_id, "Sorry, bad day", everyone)
    await ann_phone.send_text(thread_id, "One more", everyone)
    first = await doc_pc.next_of("msg", seq=1)
    second = await doc_pc.next_of("msg", seq=2)
    third = await doc_pc.next_of("msg", seq=3)
    body, key = _revealed(doc_pc, first, senders)

    verified = await doctor.call("POST", "/api/v1/reports", _report(thread_id, 1, body, key), 201)
    assert verified["verification"] == "verified"
    again = await doctor.call("POST", "/api/v1/reports", _report(thread_id, 1, body, key), 409)
    assert again["code"] == "report_already_filed"

    # A forged report: the second message, "revealed" as something it never said.
    _, key2 = _revealed(doc_pc, second, senders)
    forged = await doctor.call(
        "POST", "/api/v1/reports", _report(thread_id, 2, b"I will hurt you", key2), 201
    )
    assert forged["verification"] == "unverifiable"
    # Another message's key and text, moved onto this one: unverifiable too.
    moved = await ann.call("POST", "/api/v1/reports", _report(thread_id, 2, body, key), 201)
    assert moved["verification"] == "unverifiable"

    # The server's record altered after it was stamped: its stamp no longer holds, so
    # even the genuine text and key prove nothing.
    body3, key3 = _revealed(doc_pc, third, senders)
    stored = await db["messages"].find_one({"thread": thread_id, "seq": 3})
    assert stored is not None
    await db["messages"].update_one(
        {"_id": stored["_id"]}, {"$set": {"at": stored["at"] + timedelta(seconds=1)}}
    )
    tampered = await doctor.call("POST", "/api/v1/reports", _report(thread_id, 3, body3, key3), 201)
    assert tampered["verification"] == "unverifiable"

    # Only participants report, only messages of the thread: one answer for all.
    stranger = await actor(client, outbox, "eve@example.org")
    await stranger.call("POST", "/api/v1/reports", _report(thread_id, 1, body, key), 404)
    await doctor.call("POST", "/api/v1/reports", _report(thread_id, 99, body, key), 404)
    bad = _report(thread_id, 1, body, key) | {"franking_key": "c2hvcnQ"}
    refused = await doctor.call("POST", "/api/v1/reports", bad, 422)
    assert set(refused["fields"]) == {"franking_key"}

    moderator = await _moderator(client, db, clock)
    await doctor.call("GET", "/api/v1/admin/reports", expect=403)
    queue = (await moderator.call("GET", "/api/v1/admin/reports"))["reports"]
    outcome = {(r["seq"], r["reporter"]): r["verification"] for r in queue}
    assert outcome == {
        (1, doctor.account_id): "verified",
        (2, doctor.account_id): "unverifiable",
        (2, ann.account_id): "unverifiable",
        (3, doctor.account_id): "unverifiable",
    }
    [genuine] = [r for r in queue if r["seq"] == 1]
    assert genuine["sender"] == {"account": ann.account_id, "device": ann_phone.device_id}
    assert from_base64url(genuine["body"]) == body
    # The audit log has the outcome, never the text.
    entries = [doc async for doc in db["audit_log"].find({"action": "report_filed"})]
    assert sorted(e["details"]["verification"] for e in entries) == [
        "unverifiable",
        "unverifiable",
        "unverifiable",
        "verified",
    ]
    assert b"useless" not in repr(entries).encode()
