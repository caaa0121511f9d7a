"""Takes due jobs from MongoDB and runs them on this process's aiojobs scheduler.

The runner polls every ``poll_seconds`` and also wakes when this process enqueues a
job, so a job due now starts at once and one due later starts on time without
waiting for the next poll. While a handler runs, its lease is renewed every third of
the lease; a process that dies (SIGKILL, power loss) stops renewing, and after the
lease another process takes the job over and resumes from the last checkpoint. A
clean shutdown hands running jobs back at once instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiojobs
from pymongo.errors import PyMongoError

from chat_server.clock import Clock
from chat_server.jobs.kinds import JobKind, JobKinds
from chat_server.jobs.store import Job, JobStore
from chat_server.tokens import new_id

log = logging.getLogger(__name__)

# How long a clean shutdown waits for a take in flight to return.
STOP_SECONDS = 5.0

# (kind, outcome) for metrics: done, again, retry, failed, lost.
OnOutcome = Callable[[str, str], None]


class LeaseLost(Exception):
    """Another process holds this job now: the handler must stop, changing nothing."""


class JobContext:
    """What a handler sees of its job: the payload, the stored cursor, checkpoints."""

    def __init__(self, runner: JobRunner, job: Job) -> None:
        self._runner = runner
        self.job = job
        self.payload: Mapping[str, Any] = job.payload
        # None on a first run; on a resumed run, what the last checkpoint stored.
        self.cursor: Any = job.cursor

    async def checkpoint(self, cursor: Any) -> None:
        """Stores progress (any BSON value) and renews the lease.

        Raises :class:`LeaseLost` if another process has taken the job over.
        """
        if not await self._runner.renew(self.job, cursor=cursor):
            raise LeaseLost()
        self.cursor = cursor


def error_summary(exc: BaseException) -> str:
    """What is kept of a failure: the exception's type only.

    Exception messages can quote documents, e-mail addresses or payloads; the type
    is enough to find the log line and safe to show an operator.
    """
    return type(exc).__qualname__


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        kinds: JobKinds,
        scheduler: aiojobs.Scheduler,
        clock: Clock,
        *,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        concurrency: int = 8,
        on_outcome: OnOutcome | None = None,
    ) -> None:
        self._store = store
        self._kinds = kinds
        self._scheduler = scheduler
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._poll = poll_seconds
        self._concurrency = concurrency
        self._on_outcome = on_outcome
        # Unique per process start: a restarted process must not find its old leases
        # still "its own".
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{new_id()[:8]}"
        self._wake = asyncio.Event()
        self._soonest: datetime | None = None  # earliest run_at enqueued here
        self._running: dict[str, aiojobs.Job[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        run_at: datetime | None = None,
        dedupe_key: str | None = None,
    ) -> bool:
        """Stores a job; False (and nothing stored) if ``dedupe_key`` is already taken."""
        spec = self._kinds.get(kind)  # an unknown kind is a programming error: KeyError
        now = self._clock.now()
        at = now if run_at is None else run_at
        stored = await self._store.enqueue(
            kind,
            payload,
            now=now,
            run_at=at,
            max_attempts=spec.max_attempts,
            dedupe_key=dedupe_key,
        )
        if stored is None:
            return False
        if self._soonest is None or at < self._soonest:
            self._soonest = at
        self._wake.set()
        return True

    async def enqueue_many(
        self, kind: str, jobs: Sequence[tuple[Mapping[str, Any], datetime, str]]
    ) -> None:
        """Stores (payload, run at, dedupe key) jobs in one write; taken keys are skipped."""
        if not jobs:
            return
        spec = self._kinds.get(kind)
        await self._store.enqueue_many(
            kind, jobs, now=self._clock.now(), max_attempts=spec.max_attempts
        )
        soonest = min(at for _, at, _ in jobs)
        if self._soonest is None or soonest < self._soonest:
            self._soonest = soonest
        self._wake.set()

    async def revive(self, kind: str, dedupe_key: str) -> bool:
        """Makes the failed job of this kind and dedupe key due now; False if none."""
        now = self._clock.now()
        if not await self._store.revive(kind, dedupe_key, now=now):
            return False
        self._soonest = now
        self._wake.set()
        return True

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="job-runner")

    async def close(self) -> None:
        # The loop stops between two takes, not in one: a cancelled take can still
        # run on the server, after the release below, and lease a job to nobody.
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            if not (await asyncio.wait({self._loop_task}, timeout=STOP_SECONDS))[0]:
                self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for job in list(self._running.values()):
            await job.close()
        with contextlib.suppress(PyMongoError):
            await self._store.release_all(self.owner, now=self._clock.now())

    async def renew(self, job: Job, *, cursor: Any = ...) -> bool:
        return await self._store.heartbeat(
            job.id, self.owner, now=self._clock.now(), lease=self._lease, cursor=cursor
        )

    async def run_due(self) -> int:
        """Takes due jobs while there is room; how many were started."""
        now = self._clock.now()
        if self._soonest is not None and self._soonest <= now:
            self._soonest = None
        started = 0
        while len(self._running) < self._concurrency and not self._stopping:
            job = await self._store.take(
                self.owner, now=self._clock.now(), lease=self._lease, kinds=self._kinds.names()
            )
            if job is None:
                break
            spec = self._kinds.get(job.kind)
            if job.attempts > job.max_attempts:
                # Its last allowed attempt died with its process (lease expired).
                await self._store.fail(
                    job.id, self.owner, now=self._clock.now(), error="LeaseExpired"
                )
                self._outcome(job.kind, "failed")
                continue
            self._running[job.id] = await self._scheduler.spawn(self._run(job, spec))
            started += 1
        return started

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_due()
            except Exception as exc:  # the loop outlives any one failure; logged, polled again
                log.warning("jobs: taking due jobs failed", extra={"fields": _fields(exc)})
            timeout = self._poll
            if self._soonest is not None:
                until = (self._soonest - self._clock.now()).total_seconds()
                timeout = min(timeout, max(0.0, until))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _run(self, job: Job, spec: JobKind) -> None:
        try:
            await self._attempt(job, spec)
        except PyMongoError as exc:
            # The outcome could not be stored: the lease runs out and the job runs
            # again, which its idempotent effects allow.
            log.warning("jobs: outcome not stored", extra={"fields": _fields(exc, job)})
        finally:
            self._running.pop(job.id, None)
            self._wake.set()  # room for another job

    async def _attempt(self, job: Job, spec: JobKind) -> None:
        context = JobContext(self, job)
        work = asyncio.ensure_future(spec.handler(context))
        beat = self._lease.total_seconds() / 3
        try:
            while not (await asyncio.wait({work}, timeout=beat))[0]:
                try:
                    held = await self.renew(job)
                except PyMongoError:
                    continue  # try again next beat; the lease has slack for that
                if not held:
                    work.cancel()
                    break
            again = await work
        except asyncio.CancelledError:
            work.cancel()
            if self._is_closing():
                raise
            self._lost(job)  # the heartbeat found the lease taken and stopped the work
            return
        except LeaseLost:
            self._lost(job)
            return
        except Exception as exc:  # a handler's failure is data: kept, retried
            await self._failed(job, spec, exc)
            return
        now = self._clock.now()
        if again is None:
            await self._store.finish(job.id, self.owner, now=now)
            self._outcome(job.kind, "done")
        else:
            await self._store.reschedule(job.id, self.owner, now=now, run_at=again, error=None)
            self._outcome(job.kind, "again")

    def _is_closing(self) -> bool:
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0

    def _lost(self, job: Job) -> None:
        log.warning(
            "jobs: lease lost, another process runs the job", extra={"fields": _fields(None, job)}
        )
        self._outcome(job.kind, "lost")

    async def _failed(self, job: Job, spec: JobKind, exc: Exception) -> None:
        error = error_summary(exc)
        log.warning("jobs: attempt failed", extra={"fields": _fields(exc, job)})
        now = self._clock.now()
        if job.attempts >= job.max_attempts:
            await self._store.fail(job.id, self.owner, now=now, error=error)
            self._outcome(job.kind, "failed")
        else:
            run_at = now + spec.retry_delay(job.attempts)
            await self._store.reschedule(job.id, self.owner, now=now, run_at=run_at, error=error)
            self._outcome(job.kind, "retry")

    def _outcome(self, kind: str, outcome: str) -> None:
        if self._on_outcome is not None:
            self._on_outcome(kind, outcome)


def _fields(exc: BaseException | None, job: Job | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if exc is not None:
        fields["error"] = error_summary(exc)
    if job is not None:
        fields |= {"job": job.id, "kind": job.kind, "attempt": job.attempts}
    return fields
