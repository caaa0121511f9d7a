"""Care threads end to end: requests, encrypted messages, delivery, resume, receipts."""

import asyncio
import json
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app
from chat_server.appkeys import METRICS
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from e2e_crypto.public import VerifiedDevice
from moderation.limits import DEFAULT_TABLE, Action, Scope
from tests.actors import Actor, actor
from tests.integration.test_key_directory import _linked_pair as linked_pair
from tests.messaging import Device, by_device, device, new_cmid

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
# moderation's table: a device may say "typing" this many times in a burst.
TYPING_BURST = DEFAULT_TABLE[Action.TYPING][Scope.DEVICE].limit


async def _linked(client: Client, outbox: MemoryOutbox) -> tuple[Actor, Actor]:
    return await linked_pair(client, outbox)


async def _thread(ann: Actor, doctor: Actor) -> str:
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    thread = await ann.call("POST", "/api/v1/threads", body, expect=201)
    assert thread["state"] == "requested"
    assert "not for emergencies" in thread["notice"]
    return str(thread["thread_id"])


async def _setup(
    client: Client, outbox: MemoryOutbox
) -> tuple[Actor, Actor, Device, Device, str, list[VerifiedDevice]]:
    doctor, ann = await _linked(client, outbox)
    doc_pc = await device(doctor, "doc-pc")
    ann_phone = await device(ann, "ann-phone")
    thread_id = await _thread(ann, doctor)
    await doc_pc.connect()
    await ann_phone.connect()
    everyone = await ann_phone.verified_devices(
        {ann.account_id: ann.root.public_key, doctor.account_id: doctor.root.public_key}
    )
    return doctor, ann, doc_pc, ann_phone, thread_id, everyone


async def test_a_thread_needs_an_active_care_link(client: Client, outbox: MemoryOutbox) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    ann = await actor(client, outbox, "ann@example.org")
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    await ann.call("POST", "/api/v1/threads", body, expect=404)
    await doctor.call("POST", "/api/v1/threads", body, expect=403)


async def test_request_accept_converse_close(client: Client, outbox: MemoryOutbox) -> None:
    doctor, ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    senders = by_device(everyone)

    ack = await ann_phone.send_text(thread_id, "Can I renew my prescription?", everyone)
    assert ack["type"] == "ack"
    assert ack["seq"] == 1
    assert ack["duplicate"] is False
    received = await doc_pc.next_of("msg")
    assert doc_pc.open(received, senders) == "Can I renew my prescription?"

    refused = await doc_pc.send_text(thread_id, "too early", everyone)
    assert refused["code"] == "thread_closed"

    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    pushed = await ann_phone.next_of("thread")
    assert pushed["thread"]["state"] == "open"
    reply = await doc_pc.send_text(thread_id, "Yes, I sent it to your pharmacy.", everyone)
    assert reply["seq"] == 2
    got = await ann_phone.next_of("msg", seq=2)
    assert ann_phone.open(got, senders) == "Yes, I sent it to your pharmacy."

    await ann.call("POST", f"/api/v1/threads/{thread_id}/close")
    closed = await ann_phone.send_text(thread_id, "one more thing", everyone)
    assert closed["code"] == "thread_closed"
    refused = await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept", expect=409)
    assert refused["code"] == "thread_transition_not_allowed"


async def test_requests_are_capped_and_declines_stick(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    doctor, ann, _doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    for _ in range(5):
        assert (await ann_phone.send_text(thread_id, "hello?", everyone))["type"] == "ack"
    assert (await ann_phone.send_text(thread_id, "hello??", everyone))["code"] == "thread_closed"
    await ann.call("POST", f"/api/v1/threads/{thread_id}/decline", expect=403)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/decline")
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    cooling = await ann.call("POST", "/api/v1/threads", body, expect=409)
    assert cooling["code"] == "request_cooldown"
    clock.advance(31 * 24 * 3600)
    ann.token = (await _relogin(client, ann)).token
    await ann.call("POST", "/api/v1/threads", body, expect=201)


async def _relogin(client: Client, who: Actor) -> Actor:
    from tests.actors import login

    who.token = (await login(client, who.email))["token"]
    return who


async def test_practitioners_can_stop_accepting_and_set_an_away_message(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, ann = await _linked(client, outbox)
    await doctor.call(
        "PUT",
        "/api/v1/accounts/me/availability",
        {"accepting_requests": False, "away_message": "Back on Monday"},
        expect=204,
    )
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    away = await ann.call("POST", "/api/v1/threads", body, expect=409)
    assert away["code"] == "not_accepting_requests"
    await doctor.call(
        "PUT",
        "/api/v1/accounts/me/availability",
        {"accepting_requests": True, "away_message": "Answers within 2 days"},
        expect=204,
    )
    thread = await ann.call("POST", "/api/v1/threads", body, expect=201)
    summary = await ann.call("GET", f"/api/v1/threads/{thread['thread_id']}")
    assert summary["away_message"] == "Answers within 2 days"
    # The practitioner's own profile says what they saved (their inbox shows it);
    # a patient's profile has no availability at all.
    me = await doctor.call("GET", "/api/v1/accounts/me")
    assert me["availability"] == {
        "accepting_requests": True,
        "away_message": "Answers within 2 days",
    }
    assert "availability" not in await ann.call("GET", "/api/v1/accounts/me")
    # Patients read it: the rule for names holds (no reordering, nothing invisible).
    for message in ("Back \u202eyadnoM no", "Back\u2028soon", "Back\u200b soon"):
        refused = await doctor.call(
            "PUT",
            "/api/v1/accounts/me/availability",
            {"accepting_requests": True, "away_message": message},
            expect=422,
        )
        assert list(refused["fields"]) == ["away_message"]
    summary = await ann.call("GET", f"/api/v1/threads/{thread['thread_id']}")
    assert summary["away_message"] == "Answers within 2 days"


async def test_sends_are_idempotent_per_client_message_id(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    _, _, _, ann_phone, thread_id, everyone = await _setup(client, outbox)
    cmid = new_cmid()
    envelope = ann_phone.seal(thread_id, cmid, "once", everyone)
    frame = {"type": "send", "thread": thread_id, "client_msg_id": cmid, "envelope": envelope}
    first = await ann_phone.request(dict(frame))
    again = await ann_phone.request(dict(frame))
    assert (first["seq"], first["duplicate"]) == (1, False)
    assert (again["seq"], again["duplicate"]) == (1, True)
    other = ann_phone.seal(thread_id, cmid, "something else", everyone)
    clash = await ann_phone.request({**frame, "envelope": other})
    assert clash["code"] == "duplicate_client_msg_id"
    assert await db["messages"].count_documents({"thread": thread_id}) == 1


async def test_a_resend_announces_a_message_its_first_attempt_never_did(
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    client: Client,
    outbox: MemoryOutbox,
) -> None:
    _, ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    # The first attempt goes through a process that shares no fan-out with the
    # doctor's: it stores the message and tells nobody (like one killed right after).
    isolated = await aiohttp_client(
        create_app(replace(settings, redis_url=None), clock=clock, mailer=outbox, sms=outbox)
    )
    ann_elsewhere = Device(replace(ann, client=isolated), ann_phone.keys)
    await ann_elsewhere.connect()
    cmid = new_cmid()
    envelope = ann_phone.seal(thread_id, cmid, "stored, never announced", everyone)
    frame = {"type": "send", "thread": thread_id, "client_msg_id": cmid, "envelope": envelope}
    first = await ann_elsewhere.request(dict(frame))
    assert (first["seq"], first["duplicate"]) == (1, False)
    # The sender never saw that ack and resends through its usual process.
    again = await ann_phone.request(dict(frame))
    assert (again["seq"], again["duplicate"]) == (1, True)
    announced = await doc_pc.next_of("msg")  # live, without a sync
    assert (announced["thread"], announced["seq"]) == (thread_id, 1)


async def test_a_live_event_that_cannot_be_delivered_makes_each_socket_resync(
    client: Client, outbox: MemoryOutbox, settings: Settings
) -> None:
    doctor, _ann, doc_pc, _ann_phone, thread_id, _everyone = await _setup(client, outbox)
    doc_phone = await device(doctor, "doc-phone")
    await doc_phone.connect()
    # Another process (another version, say) publishes an event this one cannot turn
    # into a frame: the message it names cannot be loaded.
    assert settings.redis_url is not None
    redis = aioredis.Redis.from_url(settings.redis_url.reveal())
    try:
        event = {"t": "msg", "thread": thread_id, "seq": "one", "from": "elsewhere"}
        channel = f"{settings.redis_prefix}acct:{doctor.account_id}"
        await redis.publish(channel, json.dumps({"o": "another-process", "e": event}))
    finally:
        await redis.aclose()
    # Both sockets hear of it, the first failure does not stop the second.
    assert (await doc_pc.next_of("resync"))["type"] == "resync"
    assert (await doc_phone.next_of("resync"))["type"] == "resync"


async def test_misaddressed_forged_or_malformed_sends_change_nothing(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    doctor, ann, _doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    only_me = [d for d in everyone if d.account_id == ann.account_id]
    missing = await ann_phone.send_text(thread_id, "to myself only", only_me)
    assert missing["code"] == "recipients_changed"
    assert {d["device_id"] for d in missing["devices"]} == {"ann-phone", "doc-pc"}

    cmid = new_cmid()
    wrong_thread = ann_phone.seal("AAAAAAAAAAAAAAAAAAAAAA", cmid, "x", everyone)
    for envelope, code in (
        (wrong_thread, "invalid_envelope"),
        (ann_phone.seal(thread_id, "another-id", "x", everyone), "invalid_envelope"),
        ("!!!", "invalid_envelope"),
        (_flip(ann_phone.seal(thread_id, cmid, "x", everyone)), "invalid_envelope"),
    ):
        send = {"type": "send", "thread": thread_id, "client_msg_id": cmid, "envelope": envelope}
        assert (await ann_phone.request(send))["code"] == code
    bad: dict[str, Any]
    for bad in (
        {"type": "send", "thread": thread_id, "client_msg_id": "bad id!", "envelope": "x"},
        {"type": "send", "thread": thread_id, "client_msg_id": cmid},
        {"type": "send", "thread": thread_id, "client_msg_id": cmid, "envelope": "x" * 61_000},
        {"type": "delivered", "thread": thread_id, "seq": "1"},
        {"type": "sync", "cursors": {thread_id: -1}},
    ):
        reply = await ann_phone.request(bad)
        assert reply["code"] == "malformed_frame", bad
    # A stranger's thread and a missing one answer the same.
    eve = await actor(client, outbox, "eve@example.org")
    eve_phone = await device(eve, "eve-phone")
    await eve_phone.connect()
    for target in (thread_id, "AAAAAAAAAAAAAAAAAAAAAA"):
        reply = await eve_phone.send_text(target, "hi", everyone)
        assert reply["code"] == "not_found"
        assert (await eve_phone.request({"type": "read", "thread": target, "seq": 1}))[
            "code"
        ] == "not_found"
    await eve.call("GET", f"/api/v1/threads/{thread_id}", expect=404)
    await eve.call("GET", f"/api/v1/threads/{thread_id}/messages", expect=404)
    assert await db["messages"].count_documents({}) == 0
    assert doctor.role == "practitioner"


def _flip(envelope_text: str) -> str:
    from e2e_crypto.wire import from_base64url, to_base64url

    raw = bytearray(from_base64url(envelope_text))
    raw[len(raw) // 2] ^= 0x01
    return to_base64url(bytes(raw))


async def test_every_device_of_every_participant_gets_each_message(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, ann, doc_pc, ann_phone, thread_id, _ = await _setup(client, outbox)
    ann_laptop = await device(ann, "ann-laptop")
    await ann_laptop.connect()
    everyone = await ann_phone.verified_devices(
        {ann.account_id: ann.root.public_key, doctor.account_id: doctor.root.public_key}
    )
    senders = by_device(everyone)
    await ann_phone.send_text(thread_id, "from my phone", everyone)
    for reader in (doc_pc, ann_laptop):
        frame = await reader.next_of("msg", seq=1)
        assert reader.open(frame, senders) == "from my phone"
    # The sending device has its ack; the message is not echoed back to it.
    await ann_phone.request({"type": "ping"})
    assert not [f for f in ann_phone.backlog if f["type"] == "msg"]


async def test_reconnect_with_cursors_replays_exactly_what_was_missed(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, _ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    senders = by_device(everyone)
    for i in range(3):
        await ann_phone.send_text(thread_id, f"m{i}", everyone)
    seen = [await doc_pc.next_of("msg", seq=seq) for seq in (1, 2, 3)]
    assert [doc_pc.open(f, senders) for f in seen] == ["m0", "m1", "m2"]
    await doc_pc.request({"type": "delivered", "thread": thread_id, "seq": 2})
    await doc_pc.close()
    doc_pc.backlog.clear()
    for i in range(3, 7):
        await ann_phone.send_text(thread_id, f"m{i}", everyone)

    # With an explicit cursor: exactly 4..7.
    await doc_pc.connect()
    synced = await doc_pc.request({"type": "sync", "cursors": {thread_id: 3}})
    replay = [f for f in doc_pc.backlog if f["type"] == "msg"]
    assert [f["seq"] for f in replay] == [4, 5, 6, 7]
    assert [doc_pc.open(f, senders) for f in replay] == ["m3", "m4", "m5", "m6"]
    assert synced["threads"][thread_id] == 7
    assert synced["more"] is False
    await doc_pc.close()

    # Without one: from the device's stored (acknowledged) cursor, 2.
    doc_pc.backlog.clear()
    await doc_pc.connect()
    await doc_pc.request({"type": "sync"})
    assert [f["seq"] for f in doc_pc.backlog if f["type"] == "msg"] == [3, 4, 5, 6, 7]
    # A cursor beyond the end (replayed or forged) just yields nothing.
    doc_pc.backlog.clear()
    synced = await doc_pc.request({"type": "sync", "cursors": {thread_id: 99}})
    assert [f for f in doc_pc.backlog if f["type"] == "msg"] == []


async def test_a_delivered_cursor_is_pushed_to_the_sender(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    for i in range(2):
        await ann_phone.send_text(thread_id, f"m{i}", everyone)
    await doc_pc.request({"type": "delivered", "thread": thread_id, "seq": 2})
    delivered = await ann_phone.next_of("delivered")
    assert delivered == {
        "type": "delivered",
        "thread": thread_id,
        "account": doctor.account_id,
        "seq": 2,
    }
    # Delivered is not read: the unread count and the read receipts stay as they were.
    assert (await doctor.call("GET", "/api/v1/threads"))["threads"][0]["unread"] == 2
    assert [f for f in ann_phone.backlog if f["type"] == "receipt"] == []
    # Nobody is told about their own devices' cursors.
    await ann_phone.request({"type": "delivered", "thread": thread_id, "seq": 2})
    await doc_pc.next_of("delivered", account=ann.account_id)
    assert [f for f in ann_phone.backlog if f["type"] == "delivered"] == []


async def test_read_receipts_typing_unread_counts_and_history(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, _ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    for i in range(5):
        await ann_phone.send_text(thread_id, f"m{i}", everyone)
    listed = await doctor.call("GET", "/api/v1/threads")
    assert [(t["thread_id"], t["unread"]) for t in listed["threads"]] == [(thread_id, 5)]
    await doc_pc.request({"type": "read", "thread": thread_id, "seq": 3})
    receipt = await ann_phone.next_of("receipt")
    assert (receipt["account"], receipt["seq"]) == (doctor.account_id, 3)
    assert (await doctor.call("GET", "/api/v1/threads"))["threads"][0]["unread"] == 2

    await doc_pc.request({"type": "typing", "thread": thread_id})
    typing = await ann_phone.next_of("typing")
    assert typing["account"] == doctor.account_id

    page = await doctor.call("GET", f"/api/v1/threads/{thread_id}/messages?limit=2")
    assert [m["seq"] for m in page["messages"]] == [1, 2]
    page = await doctor.call(
        "GET", f"/api/v1/threads/{thread_id}/messages?after={page['next_after']}&limit=2"
    )
    assert [m["seq"] for m in page["messages"]] == [3, 4]
    back = await doctor.call("GET", f"/api/v1/threads/{thread_id}/messages?before=5&limit=3")
    assert [m["seq"] for m in back["messages"]] == [4, 3, 2]
    await doctor.call("GET", f"/api/v1/threads/{thread_id}/messages?limit=x", expect=422)
    await doctor.call("GET", f"/api/v1/threads/{thread_id}/messages?after=1&before=3", expect=422)


async def test_every_reader_counts_acked_messages_the_thread_counter_missed(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    """A send is acked once its message is stored; the thread's ``last_seq`` counter is
    written after the ack. A process killed in between leaves the counter behind for
    good, so whatever needs a thread's position counts on the messages themselves:
    the request limit, unread counts, summaries, read marks and sync."""
    doctor, _ann, _doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    for i in range(5):
        assert (await ann_phone.send_text(thread_id, f"m{i}", everyone))["seq"] == i + 1
    # Wait for the counter (written after the acks), then lose it, as that kill would.
    for _ in range(500):
        thread = await db["threads"].find_one({"_id": thread_id})
        if thread is not None and thread.get("last_seq") == 5:
            break
        await asyncio.sleep(0.01)
    reset = await db["threads"].update_one(
        {"_id": thread_id, "last_seq": 5}, {"$set": {"last_seq": 0, "last_message_at": None}}
    )
    assert reset.modified_count == 1

    assert (await ann_phone.send_text(thread_id, "m5", everyone))["code"] == "thread_closed"
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    listed = await doctor.call("GET", "/api/v1/threads")
    assert [(t["last_seq"], t["unread"]) for t in listed["threads"]] == [(5, 5)]
    summary = await doctor.call("GET", f"/api/v1/threads/{thread_id}")
    assert summary["last_seq"] == 5
    assert summary["last_message_at"] is not None
    doc_tablet = await device(doctor, "doc-tablet")
    await doc_tablet.connect()
    synced = await doc_tablet.request({"type": "sync"})
    assert [f["seq"] for f in doc_tablet.backlog if f["type"] == "msg"] == [1, 2, 3, 4, 5]
    assert synced["threads"][thread_id] == 5
    await doc_tablet.request({"type": "read", "thread": thread_id, "seq": 5})
    receipt = await ann_phone.next_of("receipt")
    assert receipt["seq"] == 5  # not held back at the counter's 0
    assert (await doctor.call("GET", "/api/v1/threads"))["threads"][0]["unread"] == 0
    await doc_tablet.close()


async def test_stored_messages_and_frames_are_counted(client: Client, outbox: MemoryOutbox) -> None:
    registry = client.app[METRICS].registry
    doctor, _ann, _doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    cmid = new_cmid()
    # The second, sealed afresh, reuses the id with another envelope: refused, not stored.
    for _ in range(2):
        await ann_phone.send_text(thread_id, "hello", everyone, cmid=cmid)
    await ann_phone.send_text(thread_id, "again", everyone)
    assert registry.get_sample_value("carechat_messages_stored_total") == 2
    assert registry.get_sample_value("carechat_ws_frames_in_total", {"type": "send"}) == 3
    # Each ack's time is in the histogram (a refusal is counted as an error instead).
    assert registry.get_sample_value("carechat_ws_frame_seconds_count", {"type": "send"}) == 2
    refusals = {"code": "duplicate_client_msg_id"}
    assert registry.get_sample_value("carechat_ws_errors_total", refusals) == 1
    # Three batches: the refused send's wrote nothing.
    assert registry.get_sample_value("carechat_message_batch_seconds_count") == 3


async def test_a_burst_of_typing_frames_is_cut_off_without_a_word(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, _ann, doc_pc, ann_phone, thread_id, _ = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    assert doc_pc.ws is not None
    burst = TYPING_BURST + 3
    for i in range(burst):
        await doc_pc.ws.send_json({"type": "typing", "id": f"t{i}", "thread": thread_id})
    # Frames are handled in order: by the pong, every typing frame has had its turn.
    assert (await doc_pc.request({"type": "ping", "id": "after"}))["type"] == "pong"
    # The budget's worth got "ok"; the rest got nothing at all, not even an error.
    answered = [(f["type"], f["re"]) for f in doc_pc.backlog if "re" in f]
    assert answered == [("ok", f"t{i}") for i in range(TYPING_BURST)]
    # And the other side was told only that many times (a receipt follows them).
    await doc_pc.request({"type": "read", "thread": thread_id, "seq": 0})
    await ann_phone.next_of("receipt")
    pushed = [f for f in ann_phone.backlog if f["type"] == "typing"]
    assert len(pushed) == TYPING_BURST
