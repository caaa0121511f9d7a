"""Blocks between accounts: no thread requests, no sends, no typing or away message
across a block; only the blocker undoes it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.handlers.blocks import TTL_SECONDS, Blocks
from chat_server.mail import MemoryOutbox
from chat_server.storage.accounts import AccountStore
from chat_server.storage.blocks import BlockStore
from tests.actors import Actor
from tests.integration.test_care_threads import _setup
from tests.messaging import Device

Client = TestClient[web.Request, web.Application]


async def _typing_seen(typist: Device, watcher: Device, thread_id: str) -> bool:
    """Whether ``watcher`` is told that ``typist`` types (a receipt marks the end)."""
    assert typist.ws is not None
    await typist.ws.send_json({"type": "typing", "id": "t", "thread": thread_id})
    await typist.request({"type": "read", "thread": thread_id, "seq": 0})
    await watcher.next_of("receipt")
    seen = [f for f in watcher.backlog if f["type"] == "typing"]
    watcher.backlog.clear()
    return bool(seen)


async def _away(patient: Actor, thread_id: str) -> object:
    return (await patient.call("GET", f"/api/v1/threads/{thread_id}"))["away_message"]


async def test_a_block_separates_two_accounts_until_the_blocker_lifts_it(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    await doctor.call(
        "PUT",
        "/api/v1/accounts/me/availability",
        {"accepting_requests": True, "away_message": "Back on Monday"},
        expect=204,
    )
    assert await _typing_seen(doc_pc, ann_phone, thread_id)
    assert await _away(ann, thread_id) == "Back on Monday"

    await ann.call("PUT", f"/api/v1/blocks/{doctor.account_id}", expect=204)
    await ann.call("PUT", f"/api/v1/blocks/{doctor.account_id}", expect=204)  # idempotent
    listed = (await ann.call("GET", "/api/v1/blocks"))["blocks"]
    assert [b["account_id"] for b in listed] == [doctor.account_id]
    # Neither side sends; the blocked side learns only that a block stands.
    for device in (doc_pc, ann_phone):
        refused = await device.send_text(thread_id, "hello?", everyone)
        assert (refused["type"], refused["code"]) == ("error", "account_blocked")
    assert not await _typing_seen(doc_pc, ann_phone, thread_id)
    assert await _away(ann, thread_id) is None

    # The blocked party cannot lift it; nor can anyone block themselves or nobody.
    await doctor.call("DELETE", f"/api/v1/blocks/{ann.account_id}", expect=404)
    self_block = await ann.call("PUT", f"/api/v1/blocks/{ann.account_id}", expect=422)
    assert self_block["code"] == "cannot_block_self"
    await ann.call("PUT", "/api/v1/blocks/AAAAAAAAAAAAAAAAAAAAAA", expect=404)

    await ann.call("DELETE", f"/api/v1/blocks/{doctor.account_id}", expect=204)
    assert (await ann_phone.send_text(thread_id, "sorry", everyone))["type"] == "ack"
    assert await _typing_seen(doc_pc, ann_phone, thread_id)
    assert await _away(ann, thread_id) == "Back on Monday"
    assert (await ann.call("GET", "/api/v1/blocks"))["blocks"] == []


async def test_a_blocked_patient_cannot_request_a_thread(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, ann, _doc_pc, _ann_phone, thread_id, _ = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    await ann.call("POST", f"/api/v1/threads/{thread_id}/close")
    await doctor.call("PUT", f"/api/v1/blocks/{ann.account_id}", expect=204)
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    refused = await ann.call("POST", "/api/v1/threads", body, expect=403)
    assert refused["code"] == "account_blocked"
    await doctor.call("DELETE", f"/api/v1/blocks/{ann.account_id}", expect=204)
    await ann.call("POST", "/api/v1/threads", body, expect=201)


async def test_another_process_sees_a_block_within_the_ttl_by_one_change_count(
    db: AsyncDatabase[dict[str, Any]], clock: ManualClock
) -> None:
    """Two processes' caches: what one blocks the other applies within TTL_SECONDS, by
    asking the store's change count, not by reloading every account's blocks."""
    here, there = Blocks(BlockStore(db), AccountStore(db), clock), BlockStore(db)
    assert not await here.separated("ann", "bob")
    assert not await here.separated("cat", "dan")
    # Written behind every cache's back (no change counted): the kept entry stands,
    # past the TTL too, because the change count did not move.
    await db["blocks"].insert_one({"blocker": "cat", "blocked": "dan", "at": clock.now()})
    clock.advance(TTL_SECONDS + 1)
    assert not await here.separated("cat", "dan")
    # A block through the other process counts a change: within the TTL, this process
    # drops what it kept and sees both.
    await there.block("ann", "bob", clock.now())
    assert not await here.separated("ann", "bob")
    clock.advance(TTL_SECONDS + 1)
    assert await here.separated("bob", "ann")
    assert await here.separated("dan", "cat")
    assert await there.unblock("ann", "bob")
    clock.advance(TTL_SECONDS + 1)
    assert not await here.separated("ann", "bob")
