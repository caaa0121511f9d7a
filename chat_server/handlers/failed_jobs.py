"""The moderator console's failed durable jobs, and retrying one.

Listed as ``carechat admin jobs`` lists them (``chat_server/admin.py``): kind, state,
attempts, the error's type and times, never the payload or cursor, which can name
accounts and threads. A retry makes the job due now with its attempts reset; the
runner of any process that knows the kind takes it from there. Audited.
"""

from __future__ import annotations

from chat_server.clock import Clock
from chat_server.errors import JobNotFailed, NotFound
from chat_server.handlers.audit import Auditor
from chat_server.handlers.reports import require_moderator
from chat_server.jobs.store import Job, JobState, JobStore
from chat_server.principal import Principal
from moderation.audit import AuditAction


class FailedJobs:
    def __init__(self, *, jobs: JobStore, clock: Clock, auditor: Auditor) -> None:
        self._jobs = jobs
        self._clock = clock
        self._audit = auditor

    async def listing(self, moderator: Principal) -> list[dict[str, object]]:
        require_moderator(moderator)
        return [job_shown(job) for job in await self._jobs.listing(states=[JobState.FAILED])]

    async def retry(self, moderator: Principal, job_id: str) -> dict[str, object]:
        require_moderator(moderator)
        job = await self._jobs.retry(job_id, now=self._clock.now())
        if job is None:
            if await self._jobs.get(job_id) is None:
                raise NotFound()
            raise JobNotFailed()
        await self._audit.record(
            AuditAction.JOB_RETRIED,
            actor=moderator.account_id,
            subject=job.id,
            details={"kind": job.kind},
        )
        return job_shown(job)


def job_shown(job: Job) -> dict[str, object]:
    """What a moderator sees of a job: never its payload or cursor."""
    return {
        "job_id": job.id,
        "kind": job.kind,
        "state": str(job.state),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }
