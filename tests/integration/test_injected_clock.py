"""Elapsed time in the server is read from the injected clock, so tests can move it.

The open-thread cache and the notifier's delayed check used ``time.monotonic``
directly; with a manual clock neither could be driven to its boundary. The
notification is now a durable job whose run time is read from the same clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.appkeys import THREAD_GATE
from chat_server.clock import ManualClock
from chat_server.handlers.access import OPEN_THREAD_KEEP_SECONDS
from chat_server.jobs import JobState
from chat_server.mail import MemoryOutbox
from chat_server.model.threads import ThreadState
from chat_server.principal import Principal, Role
from tests.integration.test_key_directory import _linked_pair as linked_pair
from tests.integration.test_notifier import CountingMailer, Rig, _job_is

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def test_the_open_thread_cache_expires_on_the_injected_clock(
    client: Client, outbox: MemoryOutbox, clock: ManualClock, db: Db
) -> None:
    doctor, ann = await linked_pair(client, outbox)
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    thread_id = (await ann.call("POST", "/api/v1/threads", body, expect=201))["thread_id"]
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept", expect=200)
    gate = client.app[THREAD_GATE]
    who = Principal(ann.account_id, Role.PATIENT, "session")
    assert (await gate.open_thread(who, thread_id)).state is ThreadState.OPEN
    # Closed behind the cache's back, with no change counted (a process stopped
    # between the two writes): an entry lives between 75 % and 100 % of its keep
    # limit (jitter spreads reloads).
    await db["threads"].update_one({"_id": thread_id}, {"$set": {"state": "closed"}})
    clock.advance(OPEN_THREAD_KEEP_SECONDS * 0.75 - 1)
    assert (await gate.open_thread(who, thread_id)).state is ThreadState.OPEN
    clock.advance(OPEN_THREAD_KEEP_SECONDS * 0.25 + 2)
    assert (await gate.open_thread(who, thread_id)).state is ThreadState.CLOSED


async def test_a_notification_comes_due_on_the_injected_clock(db: Db, clock: ManualClock) -> None:
    mailer = CountingMailer()
    rig = Rig(db, mailer, clock, delay=3600)
    await rig.doctor(0)
    rig.runner.start()
    try:
        await rig.message(0, 1)
        clock.advance(3599)
        job = await _job_is(db, JobState.DUE)
        assert job["run_at"] == clock.now() + timedelta(seconds=1)
        assert mailer.sent == []
        clock.advance(1)
        await _job_is(db, JobState.DONE)
        assert mailer.sent == ["doctor-0@example.org"]
    finally:
        await rig.close()
