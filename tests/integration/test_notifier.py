"""Notification checks that come due together query MongoDB a few at a time.

A wave of checks (every conversation of a busy minute, one delay later) once took
every pooled connection the send path needed. ``CONCURRENT_CHECKS`` bounds them; the
rest wait their turn and are all still sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiojobs
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.handlers.notifications import CONCURRENT_CHECKS, Notifier
from chat_server.model.threads import Thread, ThreadKind, ThreadState
from chat_server.principal import AccountStatus, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.messages import StoredMessage
from chat_server.storage.threads import CursorBuffer, ThreadStore
from moderation.ratelimit import MemoryRateLimiter

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


async def test_a_wave_of_due_checks_runs_a_few_at_a_time_and_all_are_sent(db: Db) -> None:
    accounts = AccountStore(db)
    for n in range(RECIPIENTS):
        await accounts.create(
            account_id=f"doctor-{n}",
            email=f"doctor-{n}@example.org",
            role=Role.PRACTITIONER,
            display_name=f"Doctor {n}",
            password_hash="-",
            now=NOW,
            registration=None,
            status=AccountStatus.ACTIVE,
        )
    threads = ThreadStore(db)
    mailer = HeldMailer()
    scheduler = aiojobs.Scheduler()
    notifier = Notifier(
        accounts=accounts,
        threads=threads,
        cursors=CursorBuffer(threads, interval=600, clock=ManualClock()),
        mailer=mailer,
        limiter=MemoryRateLimiter(ManualClock()),
        scheduler=scheduler,
        clock=ManualClock(),
        delay_seconds=0,
    )
    try:
        for n in range(RECIPIENTS):  # one message to each doctor, nobody has seen one
            message = StoredMessage(
                f"thread-{n}", 1, "patient", "patient:phone", f"cmid-{n}", "text", b"", NOW
            )
            await notifier.message_stored(_thread(n), message)
        await mailer.until(lambda: mailer.held == CONCURRENT_CHECKS)
        await asyncio.sleep(0.2)  # room for any check that would overstep the bound
        assert mailer.most_held == CONCURRENT_CHECKS
        mailer.release.set()
        await mailer.until(lambda: len(mailer.sent) == RECIPIENTS)
        assert sorted(mailer.sent) == sorted(f"doctor-{n}@example.org" for n in range(RECIPIENTS))
    finally:
        await scheduler.close()
