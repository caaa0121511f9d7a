"""Retention: conversations are deleted once they have been kept as long as the
policy (settings, docs/retention.md) says for their kind.

The ``retention`` job is one durable job for the whole deployment (every process
enqueues it at start-up, one insert wins) that never finishes: each pass ends by
asking to run again at the next ``hour`` UTC. A pass takes one time, ``now``, and
walks the kinds in a fixed order; for each, it takes the ended documents older than
its cutoff in batches (storage/expired.py) and deletes each with everything stored
with it (storage/purge.py). After every batch it checkpoints where it is (the kind,
the last document seen, the counts so far), so a pass taken over from a process that
died goes on with the same cutoffs from where it stopped. Each pass is audited once,
with counts per kind and never an id.

It must not be felt by the chats running meanwhile: batches are small, every query
is an index range scan, and each conversation deleted (and each batch of a long one)
is followed by a pause as long as the work before it (``ThreadPurge.pause``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from chat_server.clock import Clock
from chat_server.handlers.audit import Auditor
from chat_server.jobs.runner import JobContext, JobRunner
from chat_server.storage.expired import ExpiredItems, Position, RetainedKind
from chat_server.storage.purge import Purged, ThreadPurge
from moderation.audit import AuditAction

log = logging.getLogger(__name__)

RETENTION_KIND = "retention"
# One job per deployment: every process enqueues it at start-up, one insert wins.
RETENTION_DEDUPE_KEY = "daily"

# A year of retention, in days: the law counts calendar years, a day more or less
# over thirty years is within what the daily pass resolves anyway.
YEAR = timedelta(days=365.25)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind is kept after it ended, and how gently it is deleted."""

    ages: Mapping[RetainedKind, timedelta]
    hour_utc: int = 3
    batch_size: int = 200

    def next_run(self, now: datetime) -> datetime:
        """The next ``hour_utc`` o'clock strictly after ``now``."""
        at = datetime.combine(now.astimezone(UTC).date(), time(self.hour_utc), tzinfo=UTC)
        return at if at > now else at + timedelta(days=1)


class Retention:
    """The ``retention`` job."""

    def __init__(
        self,
        *,
        policy: RetentionPolicy,
        expired: ExpiredItems,
        purge: ThreadPurge,
        jobs: JobRunner,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._policy = policy
        self._expired = expired
        self._purge = purge
        self._jobs = jobs
        self._auditor = auditor
        self._clock = clock
        self._deleters: dict[RetainedKind, Callable[[str], Awaitable[Purged]]] = {
            RetainedKind.PANEL: purge.question,
            RetainedKind.PAID: purge.question,
            RetainedKind.UNPAID: purge.question,
            RetainedKind.CARE: purge.care_thread,
            RetainedKind.MAILING: purge.campaign,
        }

    async def schedule(self) -> None:
        """Makes sure the job exists (at start-up, on every process), first due at the
        next run hour. One that failed all its retries is brought back: a retention
        that stopped for good would keep data past what the policy allows."""
        run_at = self._policy.next_run(self._clock.now())
        if not await self._jobs.enqueue(
            RETENTION_KIND, {}, run_at=run_at, dedupe_key=RETENTION_DEDUPE_KEY
        ):
            await self._jobs.revive(RETENTION_KIND, RETENTION_DEDUPE_KEY)

    async def run(self, ctx: JobContext) -> datetime:
        progress = _Progress.load(ctx.cursor, self._clock.now())
        kinds = list(self._policy.ages)
        self._purge.working()
        while progress.step < len(kinds):
            kind = kinds[progress.step]
            cutoff = progress.now - self._policy.ages[kind]
            while batch := await self._expired.batch(
                kind, before=cutoff, after=progress.after, limit=self._policy.batch_size
            ):
                counts = await self._delete(kind, [doc_id for _, doc_id in batch])
                progress.add(kind, counts)
                progress.after = batch[-1]
                await ctx.checkpoint(progress.dump())
            progress.step, progress.after = progress.step + 1, None
            await ctx.checkpoint(progress.dump())
        await self._auditor.record(AuditAction.RETENTION_RUN, details=progress.details())
        if progress.counts:
            log.info("retention pass", extra={"fields": progress.details()})
        await ctx.checkpoint(None)  # the pass is over: the next one takes a new time
        return self._policy.next_run(self._clock.now())

    async def _delete(self, kind: RetainedKind, ids: list[str]) -> Purged:
        purged = Purged()
        deleter = self._deleters.get(kind)
        if deleter is None:  # owns nothing else: one delete for the batch
            purged.add(str(kind), await self._expired.delete(kind, ids))
            await self._purge.pause()
            return purged
        for doc_id in ids:
            purged.merge(await deleter(doc_id))
            await self._purge.pause()  # as long as its deletion took, at least
        return purged


@dataclass(slots=True)
class _Progress:
    """A pass's cursor: its time, the kind it is at, the last document seen there,
    and what it deleted so far (kind -> count of the kind's own documents)."""

    now: datetime
    step: int
    after: Position | None
    counts: dict[str, int]
    removed: dict[str, int]  # every document removed, by collection (for the log)

    @classmethod
    def load(cls, cursor: Any, now: datetime) -> _Progress:
        if cursor is None:
            return cls(now, 0, None, {}, {})
        after = cursor["after"]
        return cls(
            cursor["now"],
            cursor["step"],
            (after[0], after[1]) if after is not None else None,
            dict(cursor["counts"]),
            dict(cursor["removed"]),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "step": self.step,
            "after": list(self.after) if self.after is not None else None,
            "counts": self.counts,
            "removed": self.removed,
        }

    def add(self, kind: RetainedKind, purged: Purged) -> None:
        owned = purged.counts.get(_OWNER[kind], 0)
        if owned:
            self.counts[str(kind)] = self.counts.get(str(kind), 0) + owned
        for what, count in purged.counts.items():
            self.removed[what] = self.removed.get(what, 0) + count

    def details(self) -> dict[str, str | int | bool]:
        """Counts only: how many of each kind, and of messages and attachments."""
        details: dict[str, str | int | bool] = {
            f"{kind}_deleted": self.counts.get(str(kind), 0) for kind in RetainedKind
        }
        details["messages_deleted"] = self.removed.get("messages", 0)
        details["attachments_deleted"] = self.removed.get("attachments", 0)
        return details


# The collection whose documents count as "one of this kind".
_OWNER = {
    RetainedKind.PANEL: "panel_questions",
    RetainedKind.PAID: "panel_questions",
    RetainedKind.UNPAID: "paid_chats",
    RetainedKind.CARE: "threads",
    RetainedKind.MAILING: "campaigns",
    RetainedKind.JOBS: str(RetainedKind.JOBS),
}
