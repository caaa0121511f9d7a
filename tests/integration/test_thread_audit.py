"""Every change of a conversation's state lands in the hash-chained audit log: who
acted, which conversation, the event and the two states, never content."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.storage.audit import AuditStore
from tests.actors import Actor, actor
from tests.integration.test_key_directory import _linked_pair as linked_pair
from tests.panels import answer, ask, create_panel, gp, online, patient, verified
from tests.practices import platform_admin

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
Moved = tuple[str | None, str, str, str, str, str]  # actor, subject, kind, event, from, to


async def moves(db: Db) -> list[Moved]:
    found = []
    async for doc in db["audit_log"].find({"action": "thread_state_changed"}).sort("seq", 1):
        details = doc["details"]
        assert set(details) == {"kind", "event", "from", "to"}  # nothing else, no content
        found.append(
            (
                doc["actor"],
                doc["subject"],
                details["kind"],
                details["event"],
                details["from"],
                details["to"],
            )
        )
    return found


async def request(ann: Actor, doctor: Actor) -> str:
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    return str((await ann.call("POST", "/api/v1/threads", body, expect=201))["thread_id"])


async def test_care_thread_moves_are_audited_once_each_and_the_chain_verifies(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    doctor, ann = await linked_pair(client, outbox)
    doc, pat = doctor.account_id, ann.account_id
    first = await request(ann, doctor)
    await doctor.call("POST", f"/api/v1/threads/{first}/accept")
    await ann.call("POST", f"/api/v1/threads/{first}/close")
    # A move that is not allowed changes nothing and is not audited.
    await ann.call("POST", f"/api/v1/threads/{first}/close", expect=409)
    second = await request(ann, doctor)
    await doctor.call("POST", f"/api/v1/threads/{second}/decline")
    # After a decline, Ann waits before asking again: another patient is blocked.
    bob = await actor(client, outbox, "bob@example.org")
    link = await bob.call(
        "POST", "/api/v1/care-links", {"provider": {"kind": "practitioner", "id": doc}}, expect=201
    )
    await doctor.call("POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True})
    third = await request(bob, doctor)
    await doctor.call("POST", f"/api/v1/threads/{third}/block")

    assert await moves(db) == [
        (doc, first, "care", "accept", "requested", "open"),
        (pat, first, "care", "close", "open", "closed"),
        (doc, second, "care", "decline", "requested", "declined"),
        (doc, third, "care", "block", "requested", "blocked"),
    ]
    assert await AuditStore(db).verify() is None


async def test_panel_claims_releases_hand_overs_and_closes_are_audited(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(client, db, clock)
    dr_a = await gp(client, outbox, platform, "gp0@example.org")
    dr_b = await gp(client, outbox, platform, "gp1@example.org")
    panel = await create_panel(dr_a, [dr_a, dr_b])
    people = [await patient(client, outbox, f"p{i}@example.org") for i in range(3)]
    ids = []
    for person in people:
        ids.append((await ask(person, panel))["question_id"])
        clock.advance(1)
    q0, q1, q2 = ids
    a, b = dr_a.account_id, dr_b.account_id
    await online(dr_a, dr_b)

    claims = "/api/v1/panels/covid/claims"
    assert (await dr_a.call("POST", claims, {}, expect=201))["question_id"] == q0
    await dr_a.call("POST", f"/api/v1/panel-questions/{q0}/release")
    assert (await dr_a.call("POST", claims, {}, expect=201))["question_id"] == q0
    await dr_a.call("POST", f"/api/v1/panel-questions/{q0}/handover", {"to": b})
    assert (await dr_b.call("POST", claims, {}, expect=201))["question_id"] == q0
    await dr_b.call("POST", f"/api/v1/panel-questions/{q0}/park")
    await dr_b.call("POST", f"/api/v1/panel-questions/{q0}/resume")
    await answer(dr_b, panel, q0, verified(people[0]))
    assert (await dr_a.call("POST", claims, {}, expect=201))["question_id"] == q1
    await dr_a.call("POST", f"/api/v1/panel-questions/{q1}/convert", {"outcome": "booking"})
    await people[2].call("POST", f"/api/v1/panel-questions/{q2}/withdraw")

    assert await moves(db) == [
        (a, q0, "panel", "claim", "queued", "claimed"),
        (a, q0, "panel", "release", "claimed", "queued"),
        (a, q0, "panel", "claim", "queued", "claimed"),
        (a, q0, "panel", "hand_over", "claimed", "queued"),
        (b, q0, "panel", "claim", "queued", "claimed"),
        (b, q0, "panel", "park", "claimed", "parked"),
        (b, q0, "panel", "resume", "parked", "claimed"),
        (b, q0, "panel", "answer", "claimed", "answered"),
        (a, q1, "panel", "claim", "queued", "claimed"),
        (a, q1, "panel", "convert", "claimed", "closed"),
        (people[2].account_id, q2, "panel", "withdraw", "queued", "closed"),
    ]
    assert await AuditStore(db).verify() is None
