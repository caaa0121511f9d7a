"""Offline-notification jobs: bounded waves, one e-mail per waiting message.

A wave of checks (every conversation of a busy minute, one delay later) once took
every pooled connection the send path needed. ``CONCURRENT_CHECKS`` bounds them; the
rest wait their turn and are all still sent. The checks are durable jobs; a job run
again, or two jobs finding the same message waiting, send one e-mail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiojobs
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.handlers.notifications import (
    CONCURRENT_CHECKS,
    NOTIFY_EVERY,
    NOTIFY_KIND,
    Notifier,
    NotifierReads,
)
from chat_server.jobs import JobKinds, JobRunner, JobState, JobStore
from chat_server.model.threads import Thread, ThreadKind, ThreadState
from chat_server.principal import AccountStatus, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.messages import MessageStore, StoredMessage
from chat_server.storage.notifications import NotificationLog
from chat_server.storage.threads import CursorBuffer, ThreadStore
from moderation.ratelimit import MemoryRateLimiter
from tests.faults.harness import until

Db = AsyncDatabase[dict[str, Any]]
RECIPIENTS = 3 * CONCURRENT_CHECKS
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class HeldMailer:
    """Holds every e-mail until released, counting how many are held at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.changed = asyncio.Condition()
        self.held = 0
        self.most_held = 0
        self.sent: list[str] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        await self._count(+1)
        try:
            await self.release.wait()
        finally:
            await self._count(-1)
        async with self.changed:
            self.sent.append(to)
            self.changed.notify_all()

    async def _count(self, step: int) -> None:
        async with self.changed:
            self.held += step
            self.most_held = max(self.most_held, self.held)
            self.changed.notify_all()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10), self.changed:
            await self.changed.wait_for(predicate)


def _thread(n: int) -> Thread:
    return Thread(
        id=f"thread-{n}",
        kind=ThreadKind.CARE,
        state=ThreadState.OPEN,
        patient_id="patient",
        provider_kind="practitioner",
        provider_id=f"doctor-{n}",
        participants=("patient", f"doctor-{n}"),
        created_at=NOW,
        updated_at=NOW,
        last_seq=1,
        last_message_at=NOW,
    )


class Rig:
    """A notifier and a job runner over the test database, as ``create_app`` wires them."""

    def __init__(self, db: Db, mailer: Any, clock: ManualClock, *, delay: float) -> None:
        self.db, self.clock = db, clock
        self.accounts = AccountStore(db)
        threads = ThreadStore(db)
        self.scheduler = aiojobs.Scheduler()
        kinds = JobKinds()
        self.runner = JobRunner(JobStore(db), kinds, self.scheduler, clock, concurrency=64)
        self.cursors = CursorBuffer(threads, interval=600, clock=clock)
        self.notifier = Notifier(
            reads=NotifierReads(
                accounts=self.accounts,
                threads=threads,
                messages=MessageStore(db, clock, lambda message: b""),
                cursors=self.cursors,
            ),
            sent=NotificationLog(db),
            mailer=mailer,
            limiter=MemoryRateLimiter(clock),
            jobs=self.runner,
            clock=clock,
            delay_seconds=delay,
        )
        kinds.register(NOTIFY_KIND, self.notifier.check)

    async def doctor(self, n: int) -> None:
        await self.accounts.create(
            account_id=f"doctor-{n}",
            email=f"doctor-{n}@example.org",
            role=Role.PRACTITIONER,
            display_name=f"Doctor {n}",
            password_hash="-",
            now=NOW,
            registration=None,
            status=AccountStatus.ACTIVE,
        )

    async def message(self, n: int, seq: int) -> None:
        """The patient's message ``seq`` in thread n, stored now, then announced."""
        message = StoredMessage(
            f"thread-{n}",
            seq,
            "patient",
            "patient:phone",
            f"cmid-{seq}",
            "text",
            b"",
            self.clock.now(),
        )
        await self.db["messages"].insert_one(
            {
                "thread": message.thread_id,
                "seq": seq,
                "sender_account": "patient",
                "sender_device": message.sender_device,
                "cmid": message.client_msg_id,
                "at": message.at,
            }
        )
        await self.notifier.message_stored(_thread(n), message)

    async def close(self) -> None:
        await self.runner.close()
        await self.scheduler.close()


async def test_a_wave_of_due_checks_runs_a_few_at_a_time_and_all_are_sent(db: Db) -> None:
    mailer = HeldMailer()
    rig = Rig(db, mailer, ManualClock(), delay=0)
    for n in range(RECIPIENTS):
        await rig.doctor(n)
    rig.runner.start()
    try:
        for n in range(RECIPIENTS):  # one message to each doctor, nobody has seen one
            await rig.message(n, 1)
        await mailer.until(lambda: mailer.held == CONCURRENT_CHECKS)
        await asyncio.sleep(0.2)  # room for any check that would overstep the bound
        assert mailer.most_held == CONCURRENT_CHECKS
        mailer.release.set()
        await mailer.until(lambda: len(mailer.sent) == RECIPIENTS)
        assert sorted(mailer.sent) == sorted(f"doctor-{n}@example.org" for n in range(RECIPIENTS))
    finally:
        await rig.close()


class CountingMailer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append(to)


async def _job_is(db: Db, state: JobState, **match: Any) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def present() -> bool:
        job = await db["jobs"].find_one({"state": state.value, **match})
        found[:] = [job] if job is not None else []
        return job is not None

    await until(present, 5, f"a {state.value} job")
    return found[0]


async def test_a_seen_message_is_not_mailed_and_a_younger_one_waits_its_delay(
    db: Db, clock: ManualClock
) -> None:
    mailer = CountingMailer()
    rig = Rig(db, mailer, clock, delay=60)
    await rig.doctor(0)
    rig.runner.start()
    try:
        await rig.message(0, 1)
        clock.advance(30)
        await rig.message(0, 2)  # within the first job's window: no second job
        assert await db["jobs"].count_documents({}) == 1
        await ThreadStore(db).mark_read("doctor-0", "thread-0", 1)
        clock.advance(30)  # message 1 is due, and was read; message 2 is 30 s old
        job = await _job_is(db, JobState.DUE, cursor=2)
        assert job["run_at"] == clock.now() + timedelta(seconds=30)
        assert mailer.sent == []
        clock.advance(30)
        await _job_is(db, JobState.DONE)
        assert mailer.sent == ["doctor-0@example.org"]
    finally:
        await rig.close()


async def test_a_job_run_again_after_dying_before_the_send_mails_once_and_no_other_job(
    db: Db, clock: ManualClock
) -> None:
    mailer = CountingMailer()
    rig = Rig(db, mailer, clock, delay=0)
    await rig.doctor(0)
    await rig.message(0, 1)
    [job] = await JobStore(db).listing(states=[JobState.DUE])
    # Its first run recorded the e-mail, counted it against the rate limit, and its
    # process died before sending (the job's lease then ran out).
    log = NotificationLog(db)
    await log.begin("doctor-0", "thread-0", 1, job_id=job.id, now=clock.now())
    await rig.notifier._limiter.hit(NOTIFY_EVERY, "doctor-0")
    # Another job finds the same message waiting.
    assert await rig.runner.enqueue(
        NOTIFY_KIND, {"account": "doctor-0", "thread": "thread-0", "seq": 1}, dedupe_key="again"
    )
    rig.runner.start()
    try:

        async def both_done() -> bool:
            return await db["jobs"].count_documents({"state": "done"}) == 2

        await until(both_done, 5, "both jobs to finish")
        assert mailer.sent == ["doctor-0@example.org"]
        record = await db["notifications_sent"].find_one({})
        assert record is not None
        assert (record["_id"], record["state"]) == ("doctor-0/thread-0/1", "sent")
    finally:
        await rig.close()
