"""``carechat migrate`` drops practice members no signed list names (data written
before membership was consented and signed), from the practice and from its live
threads, and changes nothing the second time."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.storage.migrations import UnsignedMembers, migrate
from chat_server.storage.practices import PracticeStore
from chat_server.storage.threads import ThreadStore
from tests.actors import actor
from tests.practices import create_practice, join

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def _legacy_thread(
    db: Db, clock: ManualClock, thread_id: str, kind: str, provider: str, participants: list[str]
) -> None:
    # As the versions before signed lists wrote them: everyone the practice named.
    await ThreadStore(db).create(
        thread_id,
        patient_id=participants[0],
        provider_kind=kind,
        provider_id=provider,
        participants=participants,
        now=clock.now(),
    )


async def _participants(db: Db, thread_id: str) -> tuple[list[str], dict[str, str], Any]:
    doc = await db["threads"].find_one({"_id": thread_id})
    assert doc is not None
    return doc["participants"], doc["roles"], doc["updated_at"]


async def test_migrate_drops_unsigned_members_from_practices_and_live_threads(
    client: Client,
    outbox: MemoryOutbox,
    db: Db,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = await actor(client, outbox, "admin@practice.example", "practice_admin")
    doctor = await actor(client, outbox, "doc@practice.example", "practitioner")
    nurse = await actor(client, outbox, "nurse@practice.example", "practitioner")
    ann = await actor(client, outbox, "ann@example.org")
    old = await create_practice(admin, "Old practice")
    practices = PracticeStore(db)
    await practices.add_member(old, doctor.account_id, "practitioner")
    await practices.add_member(old, nurse.account_id, "staff")
    everyone = [ann.account_id, doctor.account_id, nurse.account_id]
    await _legacy_thread(db, clock, "live", "practice", old, everyone)
    await _legacy_thread(db, clock, "closed", "practice", old, everyone)
    await db["threads"].update_one({"_id": "closed"}, {"$set": {"state": "closed"}})
    await _legacy_thread(db, clock, "direct", "practitioner", doctor.account_id, everyone)
    await _legacy_thread(db, clock, "plain", "practitioner", nurse.account_id, everyone[::2])
    # A practice with a signed list keeps it, and its threads keep its members.
    signed = await create_practice(admin, "New practice")
    await join(admin, signed, nurse, "staff")
    await _legacy_thread(
        db, clock, "signed", "practice", signed, [ann.account_id, nurse.account_id]
    )
    # Before: the unsigned members pass the practice's gate and read the live thread.
    await doctor.call("GET", f"/api/v1/practices/{old}")
    await nurse.call("GET", "/api/v1/threads/live")
    untouched = {t: await _participants(db, t) for t in ("closed", "plain", "signed")}

    clock.advance(60)
    caplog.set_level(logging.INFO, "chat_server.storage.migrations")
    assert await migrate(db, clock) == UnsignedMembers(practices=1, threads=2)

    practice = await practices.get(old)
    assert practice is not None
    assert (practice.practitioners, practice.staff) == ((), ())
    assert practice.admins == (admin.account_id,)
    participants, roles, updated_at = await _participants(db, "live")
    assert (participants, roles) == ([ann.account_id], {ann.account_id: "patient"})
    assert updated_at == clock.now()
    participants, roles, _ = await _participants(db, "direct")
    assert participants == [ann.account_id, doctor.account_id]
    assert roles == {ann.account_id: "patient", doctor.account_id: "practitioner"}
    for thread_id, before in untouched.items():
        assert await _participants(db, thread_id) == before, thread_id
    # The gates follow: no practice, no thread for the dropped members; the patient
    # still has the thread, with nobody else in it.
    await doctor.call("GET", f"/api/v1/practices/{old}", expect=404)
    await nurse.call("GET", "/api/v1/threads/live", expect=404)
    await doctor.call("GET", "/api/v1/threads/direct")
    summary = await ann.call("GET", "/api/v1/threads/live")
    assert [m["account_id"] for m in summary["members"]] == [ann.account_id]
    kept = await practices.get(signed)
    assert kept is not None
    assert kept.staff == (nurse.account_id,)

    # Counts in the log, never which accounts, practices or threads.
    [record, moved] = [r for r in caplog.records if r.name == "chat_server.storage.migrations"]
    assert record.__dict__["fields"] == {"practices": 1, "threads": 2}
    assert moved.__dict__["fields"] == {"opt_outs": 0}  # no mailing opt-outs here
    logged = repr(record.__dict__)
    for name in (old, signed, doctor.account_id, nurse.account_id, ann.account_id):
        assert name not in logged

    # Idempotent: the second run finds nothing to do and writes nothing.
    clock.advance(60)
    after = {t: await _participants(db, t) for t in ("live", "direct", "closed", "signed")}
    assert await migrate(db, clock) == UnsignedMembers(practices=0, threads=0)
    for thread_id, before in after.items():
        assert await _participants(db, thread_id) == before, thread_id
