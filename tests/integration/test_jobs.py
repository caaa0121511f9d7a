"""The durable job runner against a real MongoDB, its time driven by a manual clock.

Process deaths are played by a store call made as a "dead" owner that never renews
its lease; real SIGKILLed processes are in tests/functional/test_job_takeover.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiojobs
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.jobs import Job, JobContext, JobKinds, JobRunner, JobState, JobStore, LeaseLost

Db = AsyncDatabase[dict[str, Any]]
LEASE = timedelta(seconds=30)


class Rig:
    def __init__(self, db: Db, clock: ManualClock, *, lease_seconds: float = 30.0) -> None:
        self.clock = clock
        self.store = JobStore(db)
        self.kinds = JobKinds()
        self.scheduler = aiojobs.Scheduler()
        self.runner = JobRunner(
            self.store,
            self.kinds,
            self.scheduler,
            clock,
            lease_seconds=lease_seconds,
            poll_seconds=0.05,
            on_outcome=lambda kind, outcome: self.outcomes.append(outcome),
        )
        self.outcomes: list[str] = []

    async def close(self) -> None:
        await self.runner.close()
        await self.scheduler.close()


@pytest.fixture
async def rig(db: Db, clock: ManualClock) -> AsyncIterator[Rig]:
    built = Rig(db, clock)
    yield built
    await built.close()


# Only a bound on waiting for something that must happen (generous: the machine may be
# loaded); no test asserts that anything is fast.
async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def job_in(rig: Rig, state: JobState) -> Any:
    [job] = await rig.store.listing(states=list(JobState))
    return job if job.state is state else None


async def test_the_same_dedupe_key_enqueues_one_job(rig: Rig, db: Db) -> None:
    rig.kinds.register("noop", _done)
    assert await rig.runner.enqueue("noop", {"n": 1}, dedupe_key="k")
    assert not await rig.runner.enqueue("noop", {"n": 2}, dedupe_key="k")
    assert await rig.runner.enqueue("noop", {"n": 3}, dedupe_key="other")
    assert await rig.runner.enqueue("noop", {"n": 4})  # no key: never deduplicated
    assert await rig.runner.enqueue("noop", {"n": 5})
    assert await db["jobs"].count_documents({}) == 4


async def test_each_due_job_is_taken_by_exactly_one_of_racing_processes(
    rig: Rig, clock: ManualClock
) -> None:
    rig.kinds.register("noop", _done)
    for n in range(40):
        await rig.store.enqueue(
            "noop", {"n": n}, now=clock.now(), run_at=clock.now(), max_attempts=3
        )

    async def drain(owner: str) -> list[str]:
        taken = []
        while job := await rig.store.take(owner, now=clock.now(), lease=LEASE, kinds=["noop"]):
            taken.append(job.id)
        return taken

    takers = await asyncio.gather(*(drain(f"process-{i}") for i in range(4)))
    every = [job_id for taken in takers for job_id in taken]
    assert len(every) == len(set(every)) == 40


async def test_a_job_not_yet_due_waits_for_its_time(rig: Rig, clock: ManualClock) -> None:
    ran: list[datetime] = []

    async def record(ctx: JobContext) -> None:
        ran.append(rig.clock.now())

    rig.kinds.register("later", record)
    rig.runner.start()
    await rig.runner.enqueue("later", {}, run_at=clock.now() + timedelta(seconds=60))
    await asyncio.sleep(0.3)
    assert ran == []
    clock.advance(60)
    await until(lambda: job_in(rig, JobState.DONE), "the job to run")
    assert len(ran) == 1


async def test_a_failing_job_backs_off_then_is_kept_failed_without_its_message(
    rig: Rig, clock: ManualClock
) -> None:
    async def broken(ctx: JobContext) -> None:
        raise ValueError(f"cannot reach {ctx.payload['email']}")  # patient data in a message

    rig.kinds.register("broken", broken, max_attempts=3, backoff=timedelta(seconds=10))
    rig.runner.start()
    start = clock.now()
    await rig.runner.enqueue("broken", {"email": "ann@example.org"})
    for attempt, delay in ((1, 10), (2, 20)):
        job = await _wait_for(rig, partial(_retrying, attempt))
        assert job.error == "ValueError"
        assert job.run_at == clock.now() + timedelta(seconds=delay)  # 10 s, then 20 s
        await asyncio.sleep(0.2)
        assert (await rig.store.get(job.id)).attempts == attempt  # type: ignore[union-attr]
        clock.advance(delay)
    job = await _wait_for(rig, lambda j: j.state is JobState.FAILED)
    assert (job.attempts, job.error) == (3, "ValueError")
    assert clock.now() == start + timedelta(seconds=30)
    # The runner counts an outcome just after storing it: wait for the count too.
    await until(lambda: _has(rig.outcomes, 3), "the runner to record the outcome")
    assert rig.outcomes == ["retry", "retry", "failed"]


async def test_a_job_whose_process_died_is_taken_over_after_its_lease_and_resumes(
    rig: Rig, clock: ManualClock
) -> None:
    resumed: list[Any] = []

    async def count(ctx: JobContext) -> None:
        resumed.append(ctx.cursor)
        for n in range(ctx.cursor, 5):
            await ctx.checkpoint(n + 1)

    rig.kinds.register("count", count)
    await rig.runner.enqueue("count", {})
    # Another process takes it, gets to 3, and dies (it never renews its lease).
    dead = await rig.store.take("dead", now=clock.now(), lease=LEASE, kinds=["count"])
    assert dead is not None
    assert await rig.store.heartbeat(dead.id, "dead", now=clock.now(), lease=LEASE, cursor=3)
    rig.runner.start()
    await asyncio.sleep(0.3)
    assert resumed == []  # its lease still holds
    clock.advance(LEASE.total_seconds())
    job = await _wait_for(rig, lambda j: j.state is JobState.DONE)
    assert resumed == [3]
    assert job.cursor == 5
    assert job.attempts == 2
    # The dead owner, were it only stalled, can no longer touch the job.
    assert not await rig.store.heartbeat(dead.id, "dead", now=clock.now(), lease=LEASE)


async def test_a_job_whose_last_attempt_died_with_its_process_is_failed(
    rig: Rig, clock: ManualClock
) -> None:
    ran: list[Any] = []

    async def once(ctx: JobContext) -> None:
        ran.append(ctx.cursor)

    rig.kinds.register("once", once, max_attempts=1)
    await rig.runner.enqueue("once", {})
    assert await rig.store.take("dead", now=clock.now(), lease=LEASE, kinds=["once"])
    clock.advance(LEASE.total_seconds())
    rig.runner.start()
    job = await _wait_for(rig, lambda j: j.state is JobState.FAILED)
    assert (job.error, job.attempts) == ("LeaseExpired", 2)
    assert ran == []
    # The runner counts an outcome just after storing it: wait for the count too.
    await until(lambda: _is(rig.outcomes), "the runner to record the outcome")
    assert rig.outcomes == ["failed"]


async def test_a_stalled_process_that_lost_its_lease_stops_and_changes_nothing(
    db: Db, clock: ManualClock
) -> None:
    # Renewed every 0.1 s of real time, each time until 0.3 s past the manual clock,
    # which stands still: the runner never sees its own lease run out.
    rig = Rig(db, clock, lease_seconds=0.3)
    stop = asyncio.Event()
    outcome: list[str] = []

    async def stalled(ctx: JobContext) -> None:
        try:
            await stop.wait()
            await ctx.checkpoint("too late")
        except LeaseLost:
            outcome.append("LeaseLost")
            raise
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    rig.kinds.register("stalled", stalled)
    rig.runner.start()
    try:
        await rig.runner.enqueue("stalled", {})
        running = await _wait_for(rig, lambda j: j.state is JobState.RUNNING)
        # Another process, one second later by its clock: the runner looks frozen to it
        # (its lease ran out), whatever renewals landed since. No race with a renewal or
        # with the runner's own take: on the runner's clock the job stays leased.
        later = clock.now() + timedelta(seconds=1)
        other = await rig.store.take("other", now=later, lease=LEASE, kinds=["stalled"])
        assert other is not None
        assert other.id == running.id
        await until(lambda: _is(outcome), "the stalled handler to be stopped")
        await until(lambda: _is(rig.outcomes), "the runner to record the loss")
        assert outcome == ["cancelled"]
        job = await rig.store.get(running.id)
        assert job is not None
        assert (job.state, job.lease_owner, job.cursor) == (JobState.RUNNING, "other", None)
        assert rig.outcomes == ["lost"]
    finally:
        stop.set()
        await rig.close()


async def test_a_handler_can_ask_to_run_again_later_keeping_its_cursor(
    rig: Rig, clock: ManualClock
) -> None:
    seen: list[Any] = []

    async def twice(ctx: JobContext) -> datetime | None:
        seen.append(ctx.cursor)
        if ctx.cursor is None:
            await ctx.checkpoint("half")
            return rig.clock.now() + timedelta(minutes=5)
        return None

    rig.kinds.register("twice", twice)
    rig.runner.start()
    await rig.runner.enqueue("twice", {})
    job = await _wait_for(rig, lambda j: j.state is JobState.DUE and j.cursor == "half")
    assert job.run_at == clock.now() + timedelta(minutes=5)
    assert job.attempts == 0  # waiting is not failing
    clock.advance(300)
    await _wait_for(rig, lambda j: j.state is JobState.DONE)
    assert seen == [None, "half"]


async def test_a_clean_shutdown_hands_running_jobs_back_at_once(db: Db, clock: ManualClock) -> None:
    rig = Rig(db, clock)
    started = asyncio.Event()

    async def endless(ctx: JobContext) -> None:
        await ctx.checkpoint(7)
        started.set()
        await asyncio.Event().wait()

    rig.kinds.register("endless", endless)
    rig.runner.start()
    await rig.runner.enqueue("endless", {})
    async with asyncio.timeout(5):
        await started.wait()
    await rig.close()
    job = await _wait_for(rig, lambda j: j.state is JobState.DUE)
    assert (job.lease_owner, job.attempts, job.cursor) == (None, 0, 7)
    assert job.run_at == clock.now()


def _retrying(attempts: int, job: Job) -> bool:
    return job.state is JobState.DUE and job.attempts == attempts


async def _done(ctx: JobContext) -> None:
    return None


async def _is(items: list[str]) -> bool:
    return bool(items)


async def _has(items: list[str], count: int) -> bool:
    return len(items) >= count


async def _wait_for(rig: Rig, predicate: Callable[[Any], bool]) -> Any:
    found: list[Any] = []

    async def check() -> bool:
        [job] = await rig.store.listing(states=list(JobState))
        if predicate(job):
            found.append(job)
            return True
        return False

    await until(check, "the job's state")
    return found[0]
