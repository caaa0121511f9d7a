"""Telling an offline recipient that a secure message is waiting — and nothing more.

After a message is stored, each other participant gets a durable ``notify_offline``
job (``chat_server/jobs``), due one delay later. When it runs, on whichever process
takes it: if a message from someone else has waited unseen (no device received it,
not read) for the delay, the recipient gets an e-mail (and, through the SMS hook, a
text) that says only that a message is waiting. No content, no sender, no specialty:
an e-mail is not a confidential channel. If the first unseen message is younger than
the delay, the job runs again when it comes due. At most one notification per
recipient per ``NOTIFY_EVERY`` window.

The send path stays fast: one job is enqueued per (recipient, thread) per delay
window, remembered in memory, not one per message (a busy thread would otherwise
insert a job per message; the job sees every message stored before it runs). The
jobs are written in the message's own group commit (``MessageStore``'s
``after_write``), one ``insert_many`` per batch beside the messages' insert, before
the senders are answered: an acked message has its check stored, and the ack waits
for no round trip of its own. A check written for a message the insert refused (a
resend, a seq another process took) finds nothing unseen and ends. A send never
fails for a notification: a job that cannot be stored is logged.

Exactly once, as far as SMTP allows: before sending, the job records the e-mail
under (recipient, thread, first unseen seq) in ``notifications_sent`` (unique), so
a second job finding the same message settles without mailing. A process killed
after the record and before the e-mail: the job is taken over after its lease and
its next run, finding its own unsettled record, sends. Killed after the SMTP server
accepted the e-mail and before the record is settled (a window of one round trip):
the next run sends it again — a duplicate reminder, never a lost one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import PyMongoError

from chat_server.clock import Clock
from chat_server.jobs.runner import JobContext, JobRunner
from chat_server.mail import Mailer
from chat_server.model.threads import Thread
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.storage.accounts import AccountStore
from chat_server.storage.messages import MessageStore, NewMessage, StoredMessage
from chat_server.storage.notifications import Intent, NotificationLog
from chat_server.storage.threads import CursorBuffer, ThreadStore
from moderation.ratelimit import RateLimit, RateLimiter

log = logging.getLogger(__name__)

NOTIFY_KIND = "notify_offline"
NOTIFY_EVERY = RateLimit("notify", limit=1, window_seconds=15 * 60)
SUBJECT = "You have a new secure message on CareChat"
BODY = (
    "A new secure message is waiting for you on CareChat.\n\n"
    "Log in to read it. For your privacy this e-mail does not say who wrote or what about.\n"
    + EMERGENCY_NOTICE
)

CONCURRENT_CHECKS = 4
# Messages a check looks at once; beyond that it runs again from the last one.
CHECK_PAGE = 200

# Optional extra channel, e.g. an SMS gateway: called with the recipient's account id.
NotifyHook = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class NotifierReads:
    """What a check reads to decide whether a message waited unseen, and whom to tell:
    the thread's messages, its read marks, the devices' delivery cursors, and the
    recipient's account (for the address)."""

    accounts: AccountStore
    threads: ThreadStore
    messages: MessageStore
    cursors: CursorBuffer


class Notifier:
    def __init__(
        self,
        *,
        reads: NotifierReads,
        sent: NotificationLog,
        mailer: Mailer,
        limiter: RateLimiter,
        jobs: JobRunner,
        clock: Clock,
        delay_seconds: float,
        hook: NotifyHook | None = None,
    ) -> None:
        self._accounts = reads.accounts
        self._threads = reads.threads
        self._messages = reads.messages
        self._cursors = reads.cursors
        self._sent = sent
        self._mailer = mailer
        self._limiter = limiter
        self._jobs = jobs
        self._clock = clock
        self._delay = timedelta(seconds=delay_seconds)
        self._hook = hook
        # (recipient, thread) -> until when (monotonic) the enqueued job covers it.
        self._covered: dict[tuple[str, str], float] = {}
        self._prune_at = 1024
        # Checks come due in waves (every conversation of a busy minute, one delay
        # later); unbounded, a wave took every MongoDB connection the send path needed
        # (a 2 s stall in the soak). They are late by design, so they queue instead.
        self._checking = asyncio.Semaphore(CONCURRENT_CHECKS)

    async def message_stored(self, thread: Thread, message: StoredMessage) -> None:
        await self.messages_stored([(thread.participants, message)])

    async def messages_written(self, batch: list[tuple[NewMessage, StoredMessage]]) -> None:
        """The message writer's ``after_write``: the checks for a whole batch, in the
        batch's own group commit (one write, before its senders are answered)."""
        await self.messages_stored([(new.participants, stored) for new, stored in batch])

    async def messages_stored(
        self, messages: Sequence[tuple[Sequence[str], StoredMessage]]
    ) -> None:
        now = self._clock.monotonic()
        jobs: list[tuple[Mapping[str, Any], datetime, str]] = []
        keys: list[tuple[str, str]] = []
        for participants, message in messages:
            for account_id in participants:
                if account_id == message.sender_account:
                    continue
                key = (account_id, message.thread_id)
                if self._covered.get(key, now) > now:
                    continue  # the job already enqueued will see this message
                self._covered[key] = now + self._delay.total_seconds()
                keys.append(key)
                jobs.append(
                    (
                        {"account": account_id, "thread": message.thread_id, "seq": message.seq},
                        message.at + self._delay,
                        f"{account_id}/{message.thread_id}/{message.seq}",
                    )
                )
        try:
            await self._jobs.enqueue_many(NOTIFY_KIND, jobs)
        except PyMongoError as exc:
            for key in keys:
                self._covered.pop(key, None)
            log.warning(
                "notification checks not stored",
                extra={"fields": {"error": type(exc).__name__}},
            )
        if len(self._covered) > self._prune_at:
            self._covered = {k: until for k, until in self._covered.items() if until > now}
            self._prune_at = max(1024, 2 * len(self._covered))

    async def check(self, ctx: JobContext) -> datetime | None:
        """The ``notify_offline`` job: mail, wait for a younger message, or finish."""
        account_id, thread_id = ctx.payload["account"], ctx.payload["thread"]
        from_seq = ctx.cursor if ctx.cursor is not None else ctx.payload["seq"]
        async with self._checking:
            waiting = await self._first_unseen(account_id, thread_id, from_seq)
            if waiting is None:
                return None
            seq, stored_at = waiting
            if seq != from_seq:
                await ctx.checkpoint(seq)
            due = stored_at + self._delay
            if due > self._clock.now():
                return due
            await self._notify(account_id, thread_id, seq, ctx.job.id)
            return None  # one e-mail covers whatever else is waiting

    async def _first_unseen(
        self, account_id: str, thread_id: str, from_seq: int
    ) -> tuple[int, datetime] | None:
        waiting = await self._messages.sent_to(thread_id, account_id, from_seq, CHECK_PAGE)
        # Seen is monotonic in seq (a read mark or a device cursor covers everything
        # before it), so the first unseen message is found by bisection.
        low, high = 0, len(waiting)
        while low < high:
            middle = (low + high) // 2
            if await self._seen(account_id, thread_id, waiting[middle][0]):
                low = middle + 1
            else:
                high = middle
        return waiting[low] if low < len(waiting) else None

    async def _notify(self, account_id: str, thread_id: str, seq: int, job_id: str) -> None:
        now = self._clock.now()
        intent = await self._sent.begin(account_id, thread_id, seq, job_id=job_id, now=now)
        if intent is Intent.SETTLED:
            return
        # A resumed e-mail was counted by the run that recorded it (or that run died,
        # or the limiter failed, before counting): it is owed either way.
        if intent is Intent.NEW and not (await self._limiter.hit(NOTIFY_EVERY, account_id)).allowed:
            await self._sent.settle(account_id, thread_id, seq, "rate_limited")
            return
        account = await self._accounts.get(account_id)
        if account is None:
            await self._sent.settle(account_id, thread_id, seq, "no_account")
            return
        # The channels the account left on (handlers/notification_preferences.py).
        by_email, by_text = await self._accounts.notify_preferences(account_id) or (True, True)
        by_text = by_text and self._hook is not None
        if not (by_email or by_text):
            await self._sent.settle(account_id, thread_id, seq, "muted")
            return
        # A failure here leaves the record unsettled: the job's retry sends it.
        if by_email:
            await self._mailer.send(account.email, SUBJECT, BODY)
        if by_text and self._hook is not None:
            await self._hook(account_id)
        await self._sent.settle(account_id, thread_id, seq, "sent")

    async def _seen(self, account_id: str, thread_id: str, seq: int) -> bool:
        if (await self._threads.read_marks(account_id, [thread_id])).get(thread_id, 0) >= seq:
            return True
        return await self._cursors.any_device_has(account_id, thread_id, seq)
