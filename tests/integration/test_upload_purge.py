"""The purge of unclaimed uploads as one durable job (``purge_uploads``) for every
process, its time driven by a manual clock, against a real MongoDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.handlers.uploads import PURGE_DEDUPE_KEY, PURGE_KIND
from chat_server.jobs import Job, JobState, JobStore
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from chat_server.storage.attachments import AttachmentStore

Db = AsyncDatabase[dict[str, Any]]
Client = TestClient[web.Request, web.Application]
GRACE = timedelta(minutes=30)
EVERY = timedelta(minutes=60)


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return replace(
        settings,
        attachment_grace_hours=GRACE.total_seconds() / 3600,
        attachment_purge_every_minutes=EVERY.total_seconds() / 60,
        jobs_poll_seconds=0.05,
    )


@pytest.fixture
def start(
    aiohttp_client: Any, quick: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> Callable[[], Awaitable[Client]]:
    async def started() -> Client:
        client: Client = await aiohttp_client(
            create_app(quick, clock=clock, mailer=outbox, sms=outbox)
        )
        return client

    return started


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def purge_job(db: Db) -> Job:
    # The server's other recurring job (retention) waits for its daily hour meanwhile.
    [job] = [j for j in await JobStore(db).listing(states=list(JobState)) if j.kind == PURGE_KIND]
    return job


async def waiting_until(db: Db, at: datetime) -> bool:
    """The job has finished a pass and waits for ``at``."""
    job = await purge_job(db)
    return job.state is JobState.DUE and job.run_at == at and job.attempts == 0


async def upload(store: AttachmentStore, attachment_id: str, now: datetime) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"c" * 100

    await store.upload(
        attachment_id, thread_id="t", uploader="u", chunks=chunks(), max_bytes=1000, now=now
    )


async def test_every_process_enqueues_the_purge_and_one_job_exists(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    await start()
    await start()
    # Both enqueued at start-up; one job ran its first pass at once and waits an hour.
    await until(lambda: waiting_until(db, clock.now() + EVERY), "the first pass")
    assert await db["jobs"].count_documents({"kind": PURGE_KIND}) == 1
    await start()
    assert await db["jobs"].count_documents({"kind": PURGE_KIND}) == 1


async def test_the_purge_runs_when_due_and_schedules_itself_again(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    store = AttachmentStore(db)
    t0 = clock.now()
    await upload(store, "old", t0)
    await start()
    await until(lambda: waiting_until(db, t0 + EVERY), "the first pass")
    assert await store.info("old") is not None  # within its grace at the first pass

    clock.advance((EVERY - timedelta(seconds=1)).total_seconds())
    await upload(store, "young", clock.now())
    await asyncio.sleep(0.3)  # several polls: the job is not due yet
    assert await store.info("old") is not None
    clock.advance(1)
    await until(lambda: waiting_until(db, t0 + 2 * EVERY), "the second pass")
    assert await store.info("old") is None
    assert await store.info("young") is not None  # uploaded 1 s ago
    assert (await purge_job(db)).cursor is None  # the next pass takes a new cutoff

    clock.advance(EVERY.total_seconds())
    await until(lambda: waiting_until(db, t0 + 3 * EVERY), "the third pass")
    assert await db["attachments.files"].count_documents({}) == 0


async def test_a_failed_pass_is_retried_after_a_back_off(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    store = AttachmentStore(db)
    await upload(store, "old", clock.now())
    clock.advance((GRACE + timedelta(seconds=1)).total_seconds())
    # MongoDB refuses the purge's "purging" mark: a real write error, as from a
    # database in trouble.
    await db.command(
        "collMod",
        "attachments.files",
        validator={"metadata.purging": {"$exists": False}},
        validationAction="error",
    )
    await start()

    async def retrying() -> bool:
        job = await purge_job(db)
        return job.state is JobState.DUE and job.attempts == 1

    await until(retrying, "a failed attempt")
    job = await purge_job(db)
    assert job.error == "WriteError"
    assert job.run_at == clock.now() + timedelta(minutes=1)
    assert await store.info("old") is not None

    await db.command("collMod", "attachments.files", validator={})
    clock.advance(60)
    await until(lambda: waiting_until(db, clock.now() + EVERY), "the retried pass")
    assert await store.info("old") is None


async def test_a_purge_job_that_failed_for_good_is_revived_at_the_next_start(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    await start()
    await until(lambda: waiting_until(db, clock.now() + EVERY), "the first pass")
    job = await purge_job(db)
    await JobStore(db).fail(job.id, None, now=clock.now(), error="WriteError")
    await start()  # a restart, or another process starting
    await until(lambda: waiting_until(db, clock.now() + EVERY), "the revived pass")
    assert (await purge_job(db)).id == job.id


async def test_a_pass_taken_over_from_a_dead_process_keeps_its_cutoff(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    store, jobs = AttachmentStore(db), JobStore(db)
    await upload(store, "before-cutoff", clock.now())
    cutoff = clock.now() + timedelta(minutes=1)
    clock.advance(120)
    await upload(store, "after-cutoff", clock.now())
    clock.advance((GRACE + timedelta(minutes=1)).total_seconds())  # both past the grace
    # A process ran the job's pass up to a checkpoint, then died.
    now = clock.now()
    await jobs.enqueue(
        PURGE_KIND, {}, now=now, run_at=now, max_attempts=8, dedupe_key=PURGE_DEDUPE_KEY
    )
    dead = await jobs.take("dead", now=now, lease=timedelta(seconds=30), kinds=[PURGE_KIND])
    assert dead is not None
    progress = {"cutoff": cutoff, "purged": 3}
    assert await jobs.heartbeat(
        dead.id, "dead", now=now, lease=timedelta(seconds=30), cursor=progress
    )
    await start()
    clock.advance(31)  # its lease runs out
    await until(lambda: waiting_until(db, clock.now() + EVERY), "the resumed pass")
    # The resumed pass used the checkpointed cutoff, not one of its own.
    assert await store.info("before-cutoff") is None
    assert await store.info("after-cutoff") is not None
    clock.advance(EVERY.total_seconds())
    await until(lambda: waiting_until(db, clock.now() + EVERY), "the next pass")
    assert await store.info("after-cutoff") is None
