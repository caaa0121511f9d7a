"""The GP panel under pressure and over time: claim races, leases on an injected clock,
removal from the panel, the wait estimate on a known history, the maximum wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.model.queue import QueueItem
from chat_server.model.threads import PanelState
from chat_server.settings import Settings
from chat_server.storage.panel_queue import QueueStore
from e2e_crypto.envelope import open_message
from e2e_crypto.errors import DecryptionFailed
from e2e_crypto.groups import open_epoch_key
from e2e_crypto.wire import GroupRef, from_base64url
from tests.actors import Actor, app_client
from tests.messaging import Device
from tests.panels import answer, ask, create_panel, gp, many_gps, online, patient, verified
from tests.practices import platform_admin

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def fast_jobs(
    aiohttp_client: Any, settings: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> Client:
    """A server whose job runner looks for due jobs every 50 ms (leases, waits)."""
    return await app_client(aiohttp_client, settings, clock, outbox, jobs_poll_seconds=0.05)


async def _state(db: Db, question: str) -> dict[str, Any]:
    doc = await db["panel_questions"].find_one({"_id": question})
    assert doc is not None
    return doc


async def test_twenty_gps_claiming_at_once_answer_two_hundred_questions_exactly_once(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    doctors = await many_gps(client, outbox, lambda: platform_admin(client, db, clock), 20)
    panel = await create_panel(doctors[0], doctors, capacity=2)
    await online(*doctors)
    # The questions are seeded through the queue store (asking is tested elsewhere);
    # their patients have no devices, so answers go to the panel's epoch alone.
    store = QueueStore(db)
    now = clock.now()
    ids = [f"question-{i:03d}-xxxxxxxxx" for i in range(200)]
    for i, qid in enumerate(ids):
        item = QueueItem(qid, "covid", f"patient-{i}", PanelState.QUEUED, now)
        await store.add(item, day=now.date().isoformat(), now=now)

    async def work(doctor: Actor) -> list[str]:
        answered: list[str] = []
        while True:
            response = await doctor.client.post(
                "/api/v1/panels/covid/claims", json={}, headers=doctor.auth
            )
            body = await response.json()
            if response.status == 409 and body["code"] == "nothing_to_claim":
                return answered
            assert response.status == 201, body
            await answer(doctor, panel, body["question_id"], [])
            answered.append(body["question_id"])

    results = await asyncio.gather(*(work(d) for d in doctors))
    every = [q for answered in results for q in answered]
    assert sorted(every) == ids  # each exactly once
    assert sum(1 for answered in results if answered) > 1  # really concurrent
    async for doc in db["panel_questions"].find():
        assert doc["state"] == "answered"
        assert doc["claims"] == 1
        owner = next(d for d, a in zip(doctors, results, strict=True) if doc["_id"] in a)
        assert doc["answered_by"] == owner.account_id
    per_question = await db["messages"].aggregate(
        [{"$group": {"_id": "$thread", "n": {"$sum": 1}}}, {"$match": {"n": {"$ne": 1}}}]
    )
    assert [row async for row in per_question] == []
    assert {d["open"] async for d in db["panel_seats"].find()} == {0}


async def test_an_expired_lease_puts_the_question_back_at_its_original_place(
    fast_jobs: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(fast_jobs, db, clock)
    dr_a, dr_b = [await gp(fast_jobs, outbox, platform, f"gp{i}@example.org") for i in range(2)]
    panel = await create_panel(dr_a, [dr_a, dr_b], lease_seconds=300)
    alice = await patient(fast_jobs, outbox, "alice@example.org")
    bob = await patient(fast_jobs, outbox, "bob@example.org")
    first = (await ask(alice, panel))["question_id"]
    clock.advance(10)
    second = (await ask(bob, panel))["question_id"]
    queued_at = (await _state(db, first))["queued_at"]
    await online(dr_a, dr_b)
    claimed = await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    assert claimed["question_id"] == first
    await alice.call("GET", f"/api/v1/panel-questions/{second}", expect=404)
    assert (await bob.call("GET", f"/api/v1/panel-questions/{second}"))["position"] == 1

    # Renewed in time, the lease holds past its first end.
    clock.advance(200)
    await online(dr_a, dr_b)
    await dr_a.call("POST", f"/api/v1/panel-questions/{first}/lease")
    clock.advance(200)
    await asyncio.sleep(0.5)  # the runner has had time to look
    assert (await _state(db, first))["state"] == "claimed"

    # Not renewed, it runs out and returns ahead of the question asked after it.
    clock.advance(101)

    async def back() -> bool:
        return bool((await _state(db, first))["state"] == "queued")

    await _until(back)
    doc = await _state(db, first)
    assert doc["queued_at"] == queued_at
    assert "claimed_by" not in doc
    assert (await alice.call("GET", f"/api/v1/panel-questions/{first}"))["position"] == 1
    assert (await bob.call("GET", f"/api/v1/panel-questions/{second}"))["position"] == 2
    late = await dr_a.call("POST", f"/api/v1/panel-questions/{first}/lease", expect=409)
    assert late["code"] == "question_not_held"
    await online(dr_a, dr_b)
    again = await dr_b.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    assert again["question_id"] == first
    assert {d["_id"]: d["open"] async for d in db["panel_seats"].find()} == {
        f"covid/{dr_a.account_id}": 0,
        f"covid/{dr_b.account_id}": 1,
    }


async def test_a_removed_gp_is_told_loses_claims_and_can_neither_claim_nor_read(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(client, db, clock)
    dr_a, dr_b = [await gp(client, outbox, platform, f"gp{i}@example.org") for i in range(2)]
    panel = await create_panel(dr_a, [dr_a, dr_b], daily_free_questions=2)
    alice = await patient(client, outbox, "alice@example.org")
    qid = (await ask(alice, panel))["question_id"]
    queued_at = (await _state(db, qid))["queued_at"]
    await online(dr_a, dr_b)
    await dr_b.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    socket = Device(dr_b, next(iter(dr_b.devices.values())))
    assert (await socket.connect())["type"] == "welcome"
    old_key = open_epoch_key(panel.current, socket.keys)

    await panel.commit([dr_a])  # dr_b removed
    assert (await socket.next_of("panel_removed"))["panel"] == "covid"
    doc = await _state(db, qid)
    assert doc["state"] == "queued"
    assert doc["queued_at"] == queued_at
    await dr_b.call("POST", "/api/v1/panels/covid/claims", {}, expect=404)
    await dr_b.call("GET", f"/api/v1/panel-questions/{qid}/messages", expect=404)
    await dr_b.call("GET", "/api/v1/panels/covid/queue", expect=404)
    assert not await db["panel_presence"].count_documents({"gp": dr_b.account_id})

    # A question asked after the removal is sealed to the new epoch: dr_b's device
    # never gets its key, and the old key does not open it.
    await alice.call("POST", f"/api/v1/panel-questions/{qid}/withdraw")
    clock.advance(1)
    later = (await ask(alice, panel, b"a later question"))["question_id"]
    [message] = (await dr_a.call("GET", f"/api/v1/panel-questions/{later}/messages"))["messages"]
    with pytest.raises(DecryptionFailed):
        open_epoch_key(panel.current, socket.keys)
    [alice_phone] = verified(alice)
    with pytest.raises(DecryptionFailed):
        open_message(
            from_base64url(message["envelope"]),
            opener=old_key,
            sender=alice_phone,
            thread_id=later,
            client_msg_id="q1",
            group=GroupRef("covid", 2),
        )
    new_key = open_epoch_key(panel.current, next(iter(dr_a.devices.values())))
    opened = open_message(
        from_base64url(message["envelope"]),
        opener=new_key,
        sender=alice_phone,
        thread_id=later,
        client_msg_id="q1",
        group=GroupRef("covid", 2),
    )
    assert opened.body == b"a later question"
    await socket.close()


async def test_only_verified_practitioners_join_and_only_through_the_panel(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(client, db, clock)
    dr_a = await gp(client, outbox, platform, "gp0@example.org")
    unverified = await gp(client, outbox, platform, "gp1@example.org")
    await platform.call(
        "POST",
        f"/api/v1/admin/accounts/{unverified.account_id}/suspend",
        {"reason": "impersonation"},
        expect=204,
    )
    alice = await patient(client, outbox, "alice@example.org")
    panel = await create_panel(dr_a, [dr_a])
    refused = await panel.commit([dr_a, alice], expect=409)
    assert refused["code"] == "registration_not_verified"
    # The bare group route does not take a panel's epochs (removal needs the panel).
    direct = await dr_a.call("POST", "/api/v1/groups/covid/epochs", {"commit": "AAAA"}, expect=409)
    assert direct["code"] == "panel_epoch_route"
    patient_made = await alice.call(
        "POST", "/api/v1/panels", {"panel_id": "derm", "name": "Skin"}, expect=403
    )
    assert patient_made["code"] == "practitioners_only"


async def test_position_and_estimate_follow_a_known_history(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    """Over the last hour three GPs answered six questions: two an hour each. With two
    GPs online, the panel answers four an hour, so the third in line waits 45 min."""
    platform = await platform_admin(client, db, clock)
    doctors = [await gp(client, outbox, platform, f"gp{i}@example.org") for i in range(3)]
    panel = await create_panel(doctors[0], doctors)
    now = clock.now()
    history = [
        {
            "_id": f"history-{i}-xxxxxxxxxxxx",
            "panel": "covid",
            "patient": f"old-{i}",
            "state": "answered",
            "queued_at": now - timedelta(hours=2),
            "answered_at": now - timedelta(minutes=5 + 9 * i),
            "answered_by": doctors[i % 3].account_id,
            "day": "2000-01-01",
        }
        for i in range(6)
    ]
    history.append(
        {**history[0], "_id": "too-old-xxxxxxxxxxxxxx", "answered_at": now - timedelta(hours=2)}
    )
    await db["panel_questions"].insert_many(history)
    people = [await patient(client, outbox, f"p{i}@example.org") for i in range(3)]
    ids = []
    for person in people:
        ids.append((await ask(person, panel))["question_id"])
        clock.advance(60)
    third = await people[2].call("GET", f"/api/v1/panel-questions/{ids[2]}")
    assert third["position"] == 3
    assert third["estimate_seconds"] is None  # nobody online: no honest estimate
    await online(doctors[0], doctors[1])
    third = await people[2].call("GET", f"/api/v1/panel-questions/{ids[2]}")
    assert third["gps_online"] == 2
    assert third["estimate_seconds"] == 45 * 60
    first = await people[0].call("GET", f"/api/v1/panel-questions/{ids[0]}")
    assert first["estimate_seconds"] == 15 * 60
    stats = await doctors[0].call("GET", "/api/v1/panels/covid/stats")
    assert stats["queued"] == 3
    assert stats["oldest_wait_seconds"] == 180
    assert stats["answered_per_hour"] == 6


async def test_past_the_maximum_wait_the_patient_is_told_and_chooses(
    fast_jobs: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(fast_jobs, db, clock)
    dr_a = await gp(fast_jobs, outbox, platform, "gp0@example.org")
    panel = await create_panel(dr_a, [dr_a], max_wait_minutes=10)
    alice = await patient(fast_jobs, outbox, "alice@example.org")
    socket = Device(alice, next(iter(alice.devices.values())))
    await socket.connect()
    console = Device(dr_a, next(iter(dr_a.devices.values())))
    await console.connect()
    qid = (await ask(alice, panel))["question_id"]
    figures = await console.next_of("panel")  # the panel sees its queue live
    assert figures["panel"]["queued"] == 1
    await console.close()
    live = await socket.next_of("question")
    assert live["question"]["position"] == 1
    assert live["question"]["overdue"] is False
    early = await alice.call("POST", f"/api/v1/panel-questions/{qid}/keep-waiting", expect=409)
    assert early["code"] == "thread_transition_not_allowed"

    clock.advance(10 * 60)

    async def overdue() -> bool:
        return bool((await _state(db, qid))["overdue"])

    await _until(overdue)
    told = await socket.next_of("question")
    while not told["question"]["overdue"]:
        told = await socket.next_of("question")
    kept = await alice.call("POST", f"/api/v1/panel-questions/{qid}/keep-waiting")
    assert kept["overdue"] is False
    clock.advance(10 * 60)
    await _until(overdue)
    withdrawn = await alice.call("POST", f"/api/v1/panel-questions/{qid}/withdraw")
    assert withdrawn["state"] == "closed"
    assert withdrawn["outcome"] == "withdrawn"
    await socket.close()


async def test_after_the_answer_the_follow_up_window_closes_the_question(
    fast_jobs: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(fast_jobs, db, clock)
    dr_a = await gp(fast_jobs, outbox, platform, "gp0@example.org")
    panel = await create_panel(dr_a, [dr_a], follow_up_hours=1)
    alice = await patient(fast_jobs, outbox, "alice@example.org")
    qid = (await ask(alice, panel))["question_id"]
    await online(dr_a)
    await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    await answer(dr_a, panel, qid, verified(alice))
    answered = await alice.call("GET", f"/api/v1/panel-questions/{qid}")
    assert answered["state"] == "answered"
    # Within the window both sides may still write.
    await answer(alice, panel, qid, verified(alice), client_msg_id="f1", is_answer=False)
    await answer(dr_a, panel, qid, verified(alice), client_msg_id="a2", is_answer=False)
    clock.advance(3600)

    async def closed() -> bool:
        return bool((await _state(db, qid))["state"] == "closed")

    await _until(closed)
    late = await answer(
        alice, panel, qid, verified(alice), client_msg_id="f2", is_answer=False, expect=409
    )
    assert late["code"] == "thread_closed"
    assert (await alice.call("GET", f"/api/v1/panel-questions/{qid}"))["outcome"] == "answered"
