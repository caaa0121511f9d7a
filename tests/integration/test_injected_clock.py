"""Elapsed time in the server is read from the injected clock, so tests can move it.

The open-thread cache and the notifier's delayed check used ``time.monotonic``
directly; with a manual clock neither could be driven to its boundary.
"""

from __future__ import annotations

from typing import Any

import aiojobs
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.appkeys import THREADS
from chat_server.clock import ManualClock
from chat_server.handlers.notifications import Notifier
from chat_server.handlers.threads import OPEN_THREAD_SECONDS
from chat_server.mail import MemoryOutbox
from chat_server.model.threads import ThreadState
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.messages import StoredMessage
from chat_server.storage.threads import CursorBuffer, ThreadStore
from moderation.ratelimit import MemoryRateLimiter
from tests.integration.test_key_directory import _linked_pair as linked_pair
from tests.integration.test_notifier import NOW, HeldMailer, _thread

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def test_the_open_thread_cache_expires_on_the_injected_clock(
    client: Client, outbox: MemoryOutbox, clock: ManualClock, db: Db
) -> None:
    doctor, ann = await linked_pair(client, outbox)
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    thread_id = (await ann.call("POST", "/api/v1/threads", body, expect=201))["thread_id"]
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept", expect=200)
    service = client.app[THREADS]
    who = Principal(ann.account_id, Role.PATIENT, "session")
    assert (await service.access_open(who, thread_id)).state is ThreadState.OPEN
    # Closed behind the cache's back, as by a process whose event this one missed.
    await db["threads"].update_one({"_id": thread_id}, {"$set": {"state": "closed"}})
    # An entry lives between 75 % and 100 % of the TTL (jitter spreads reloads).
    clock.advance(OPEN_THREAD_SECONDS * 0.75 - 1)
    assert (await service.access_open(who, thread_id)).state is ThreadState.OPEN
    clock.advance(OPEN_THREAD_SECONDS * 0.25 + 2)
    assert (await service.access_open(who, thread_id)).state is ThreadState.CLOSED


async def test_a_notification_check_comes_due_on_the_injected_clock(db: Db) -> None:
    accounts = AccountStore(db)
    await accounts.create(
        account_id="doctor-0",
        email="doctor-0@example.org",
        role=Role.PRACTITIONER,
        display_name="Doctor",
        password_hash="-",
        now=NOW,
        registration=None,
        status=AccountStatus.ACTIVE,
    )
    clock, mailer, threads = ManualClock(), HeldMailer(), ThreadStore(db)
    mailer.release.set()
    scheduler = aiojobs.Scheduler()
    notifier = Notifier(
        accounts=accounts,
        threads=threads,
        cursors=CursorBuffer(threads, interval=600, clock=clock),
        mailer=mailer,
        limiter=MemoryRateLimiter(clock),
        scheduler=scheduler,
        clock=clock,
        delay_seconds=3600,
    )
    try:
        message = StoredMessage("thread-0", 1, "patient", "patient:phone", "cmid", "text", b"", NOW)
        await notifier.message_stored(_thread(0), message)
        clock.advance(3600)  # before the check first looks at the clock: it is due at once
        await mailer.until(lambda: bool(mailer.sent))
        assert mailer.sent == ["doctor-0@example.org"]
    finally:
        await scheduler.close()
