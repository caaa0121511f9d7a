"""Anchoring the audit chain: its head, exported daily out of the database's reach.

One durable job (``audit_anchor``) for every process, like the upload purge: each run
reads the chain's head ``(seq, hash)`` and entry count, appends them with the time as
one line to ``<audit_anchor_dir>/audit-anchors.jsonl`` and/or e-mails the line to
``audit_anchor_email``, then asks to run again ``audit_anchor_every_hours`` later. A
run taken over from a dead process may repeat a line, which changes nothing: each
line is checked on its own. ``carechat admin verify-audit --anchors FILE`` checks the
log against the lines (``chat_server/admin.py``; ``moderation/audit_anchors.py``).

The line holds hashes, numbers and a time: nothing about anyone.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from chat_server.clock import Clock
from chat_server.jobs.runner import JobContext, JobRunner
from chat_server.mail import Mailer
from chat_server.storage.audit import AuditStore
from moderation.audit import GENESIS_HASH
from moderation.audit_anchors import AuditAnchor, anchor_line

log = logging.getLogger(__name__)

ANCHOR_KIND: Final = "audit_anchor"
ANCHOR_DEDUPE_KEY: Final = "every"
ANCHOR_FILE: Final = "audit-anchors.jsonl"
ANCHOR_SUBJECT: Final = "CareChat audit anchor"


class AuditAnchoring:
    def __init__(
        self,
        *,
        store: AuditStore,
        jobs: JobRunner,
        clock: Clock,
        mailer: Mailer,
        directory: Path | None,
        auditor_email: str,
        every: timedelta,
    ) -> None:
        self._store = store
        self._jobs = jobs
        self._clock = clock
        self._mailer = mailer
        self._directory = directory
        self._auditor_email = auditor_email
        self._every = every

    @property
    def configured(self) -> bool:
        return self._directory is not None or bool(self._auditor_email)

    async def schedule(self) -> None:
        """Makes sure the job exists when anchoring is configured (at start-up, on every
        process); a job that failed all its retries is brought back, since anchors
        that stopped for good would leave the chain unanchored unnoticed."""
        if not self.configured:
            return
        if not await self._jobs.enqueue(ANCHOR_KIND, {}, dedupe_key=ANCHOR_DEDUPE_KEY):
            await self._jobs.revive(ANCHOR_KIND, ANCHOR_DEDUPE_KEY)

    async def anchor(self) -> AuditAnchor:
        """The chain's head now."""
        head = await self._store.head()
        return AuditAnchor(
            seq=head.seq if head else 0,
            hash=head.hash if head else GENESIS_HASH,
            entries=await self._store.count(),
            at=self._clock.now(),
        )

    async def run(self, ctx: JobContext) -> datetime | None:
        if not self.configured:
            return None  # anchoring was switched off since the job was stored
        line = anchor_line(await self.anchor())
        if self._directory is not None:
            await asyncio.to_thread(_append, self._directory / ANCHOR_FILE, line)
        if self._auditor_email:
            await self._mailer.send(self._auditor_email, ANCHOR_SUBJECT, _mail_body(line))
        log.info("audit chain anchored")
        return self._clock.now() + self._every


def _append(path: Path, line: str) -> None:
    """Appends one line and makes it durable before the job counts as done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _mail_body(line: str) -> str:
    return (
        "The head of CareChat's audit log, for you to keep out of the operator's reach.\n"
        "Keep this line. Later, put it (with the others) in a file and run\n"
        "`carechat admin verify-audit --anchors FILE`: a log rewritten since will\n"
        "not match it.\n\n"
        f"{line}\n"
    )
