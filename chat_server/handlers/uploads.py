"""Attachment uploads: how many, how large, how much per account; and the purge of
uploads that no message refers to.

An upload belongs to one thread (only its participants may download it) and counts
against its uploader's storage quota for as long as it is stored. A message refers
to it by naming its id in the ``send`` frame, which *claims* it
(``MessageIntake.send``); what stays unclaimed past the grace period is deleted by
:func:`purge_unreferenced_uploads`, which the durable ``purge_uploads`` job
(:class:`UploadPurge`) runs hourly: one job for the whole deployment, whichever
process takes it.

The quota is checked before the upload (the bytes already stored, and the declared
length) and enforced while streaming (the upload is cut off at the room left). Two
uploads racing could each fit alone but not together, so each one re-reads the
account's total once stored and removes itself if the total is over: both may be
refused, never both kept.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from chat_server.clock import Clock
from chat_server.errors import EmptyUpload, TooLarge, UploadQuotaExceeded, UploadRateLimited
from chat_server.handlers.access import ThreadGate
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.jobs.runner import JobContext, JobRunner
from chat_server.principal import Principal
from chat_server.storage.attachments import AttachmentStore, AttachmentTooLarge, EmptyAttachment
from chat_server.tokens import new_id
from moderation.limits import Action

log = logging.getLogger(__name__)

PURGE_KIND = "purge_uploads"
# One purge job per deployment: every process enqueues it at start-up, one insert wins.
PURGE_DEDUPE_KEY = "every"


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_bytes: int
    quota_bytes: int


@dataclass(frozen=True, slots=True)
class Uploaded:
    attachment_id: str
    size: int


@dataclass(frozen=True, slots=True)
class Download:
    size: int
    chunks: AsyncIterator[bytes]


class UploadService:
    def __init__(
        self,
        *,
        attachments: AttachmentStore,
        gate: ThreadGate,
        clock: Clock,
        throttle: Throttle,
        limits: UploadLimits,
    ) -> None:
        self._attachments = attachments
        self._gate = gate
        self._clock = clock
        self._throttle = throttle
        self._limits = limits

    async def upload(
        self,
        who: Principal,
        thread_id: str,
        chunks: AsyncIterator[bytes],
        *,
        declared_bytes: int | None,
    ) -> Uploaded:
        """Stores the ciphertext ``chunks`` as a new attachment of the thread.

        ``declared_bytes`` is the request's Content-Length, if it sent one: a body that
        cannot fit is refused before a byte is read.
        """
        thread = await self._gate.thread(who, thread_id)
        limits = self._limits
        if declared_bytes == 0:
            raise EmptyUpload()
        if declared_bytes is not None and declared_bytes > limits.max_bytes:
            raise self._too_large()
        await self._throttle.action(Action.UPLOAD, subject_of(who), refusal=UploadRateLimited)
        room = limits.quota_bytes - await self._attachments.stored_bytes(who.account_id)
        if room <= 0 or (declared_bytes is not None and declared_bytes > room):
            raise self._quota_exceeded()
        attachment_id = new_id()
        try:
            size = await self._attachments.upload(
                attachment_id, thread_id=thread.id, uploader=who.account_id, chunks=chunks,
                max_bytes=min(limits.max_bytes, room), now=self._clock.now(),
            )  # fmt: skip
        except EmptyAttachment:
            raise EmptyUpload() from None
        except AttachmentTooLarge:
            too_large = room >= limits.max_bytes
            raise (self._too_large() if too_large else self._quota_exceeded()) from None
        if await self._attachments.stored_bytes(who.account_id) > limits.quota_bytes:
            await self._attachments.delete(attachment_id)  # a concurrent upload filled it
            raise self._quota_exceeded()
        return Uploaded(attachment_id, size)

    async def download(self, who: Principal, attachment_id: str) -> Download:
        """An attachment for a participant of its thread; NotFound for anyone else."""
        info = await self._gate.attachment(who, attachment_id)
        return Download(info.size, self._attachments.download(info.id))

    def _too_large(self) -> TooLarge:
        return TooLarge(f"attachments are at most {self._limits.max_bytes} bytes")

    def _quota_exceeded(self) -> UploadQuotaExceeded:
        return UploadQuotaExceeded(
            f"an account stores at most {self._limits.quota_bytes} bytes of attachments; "
            "files no message refers to are deleted after a grace period"
        )


async def purge_unreferenced_uploads(
    attachments: AttachmentStore, clock: Clock, grace: timedelta
) -> int:
    """Deletes every upload no message claimed within ``grace``; returns how many.

    Idempotent, and safe to run on several processes at once (see
    ``AttachmentStore.purge_unclaimed``).
    """
    cutoff = clock.now() - grace
    purged = 0
    while batch := await attachments.purge_unclaimed(cutoff):
        purged += batch
    return purged


class UploadPurge:
    """The ``purge_uploads`` job: a pass over the unclaimed uploads, then again later.

    The job never finishes: each pass ends by asking to run again ``every`` later, so
    its dedupe key keeps it the only one. A pass works in batches and checkpoints its
    cutoff and count after each, so a pass taken over from a dead process goes on
    with the same cutoff. A failed pass (MongoDB unreachable) is retried with back-off
    by the job runner; nothing is lost by waiting, the files are only kept longer.
    """

    def __init__(
        self,
        *,
        attachments: AttachmentStore,
        jobs: JobRunner,
        clock: Clock,
        grace: timedelta,
        every: timedelta,
    ) -> None:
        self._attachments = attachments
        self._jobs = jobs
        self._clock = clock
        self._grace = grace
        self._every = every

    async def schedule(self) -> None:
        """Makes sure the job exists (at start-up, on every process): the first pass
        runs at once. A job that failed all its retries is brought back, since a
        purge that stopped for good would let storage grow without bound."""
        if not await self._jobs.enqueue(PURGE_KIND, {}, dedupe_key=PURGE_DEDUPE_KEY):
            await self._jobs.revive(PURGE_KIND, PURGE_DEDUPE_KEY)

    async def run(self, ctx: JobContext) -> datetime:
        # None on a new pass; {cutoff, purged} while one is under way (taken over).
        progress = ctx.cursor
        if progress is None:
            cutoff, purged = self._clock.now() - self._grace, 0
        else:
            cutoff, purged = progress["cutoff"], progress["purged"]
        while batch := await self._attachments.purge_unclaimed(cutoff):
            purged += batch
            await ctx.checkpoint({"cutoff": cutoff, "purged": purged})
        if purged:
            log.info("purged unreferenced uploads", extra={"fields": {"count": purged}})
        await ctx.checkpoint(None)  # the pass is over: the next one takes a new cutoff
        return self._clock.now() + self._every
