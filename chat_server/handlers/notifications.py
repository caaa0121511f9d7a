"""Telling an offline recipient that a secure message is waiting — and nothing more.

After a message is stored, each other participant gets a delayed check: if by then
none of their devices has received it and they have not read it, they get an e-mail
(and, through the SMS hook, a text) that says only that a message is waiting. No
content, no sender, no specialty: an e-mail is not a confidential channel. At most one
notification per recipient per ``NOTIFY_EVERY`` window.

The check runs on this process's job scheduler; a crash before it fires loses the
notification, not the message (the recipient still gets it on their next sync).

There is one check at a time per (recipient, thread), not one per message: a busy
thread would otherwise park thousands of sleeping jobs, and once the scheduler's
pending queue is full ``spawn`` waits — inside the send path, before the ack (the
benchmark found exactly that: every send hung after 10,100 messages in two minutes).
Messages that arrive while a check sleeps are remembered by their first seq and time,
and checked in turn. A send never waits for a notification: with the scheduler full,
the check is dropped and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiojobs

from chat_server.clock import Clock
from chat_server.mail import Mailer
from chat_server.model.threads import Thread
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.storage.accounts import AccountStore
from chat_server.storage.messages import StoredMessage
from chat_server.storage.threads import CursorBuffer, ThreadStore
from moderation.ratelimit import RateLimit, RateLimiter, RateLimiterUnavailable

log = logging.getLogger(__name__)

NOTIFY_EVERY = RateLimit("notify", limit=1, window_seconds=15 * 60)
SUBJECT = "You have a new secure message on CareChat"
BODY = (
    "A new secure message is waiting for you on CareChat.\n\n"
    "Log in to read it. For your privacy this e-mail does not say who wrote or what about.\n"
    + EMERGENCY_NOTICE
)

CONCURRENT_CHECKS = 4

# Optional extra channel, e.g. an SMS gateway: called with the recipient's account id.
NotifyHook = Callable[[str], Awaitable[None]]


class Notifier:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        threads: ThreadStore,
        cursors: CursorBuffer,
        mailer: Mailer,
        limiter: RateLimiter,
        scheduler: aiojobs.Scheduler,
        clock: Clock,
        delay_seconds: float,
        hook: NotifyHook | None = None,
    ) -> None:
        self._accounts = accounts
        self._threads = threads
        self._cursors = cursors
        self._mailer = mailer
        self._limiter = limiter
        self._scheduler = scheduler
        self._clock = clock
        self._delay = delay_seconds
        self._hook = hook
        # (recipient, thread) -> the first message stored while its check sleeps.
        self._waiting: dict[tuple[str, str], tuple[int, float] | None] = {}
        # Checks come due in waves (every conversation of a busy minute, one delay
        # later); unbounded, a wave took every MongoDB connection the send path needed
        # (a 2 s stall in the soak). They are late by design, so they queue instead.
        self._checking = asyncio.Semaphore(CONCURRENT_CHECKS)

    async def message_stored(self, thread: Thread, message: StoredMessage) -> None:
        now = self._clock.monotonic()
        for account_id in thread.participants:
            if account_id == message.sender_account:
                continue
            key = (account_id, thread.id)
            if key in self._waiting:
                # A check is already sleeping; remember the first message after it.
                if self._waiting[key] is None:
                    self._waiting[key] = (message.seq, now)
                continue
            if self._scheduler.pending_count >= self._scheduler.pending_limit:
                log.warning("notification check dropped: scheduler full")
                continue
            self._waiting[key] = None
            await self._scheduler.spawn(self._check_later(key, message.seq, now))

    async def _check_later(self, key: tuple[str, str], seq: int, stored_at: float) -> None:
        account_id, thread_id = key
        try:
            while True:
                await asyncio.sleep(max(0.0, stored_at + self._delay - self._clock.monotonic()))
                async with self._checking:
                    seen = await self._seen(account_id, thread_id, seq)
                    if not seen:
                        await self._notify(account_id)
                if not seen:
                    return  # one e-mail covers whatever else is waiting
                later = self._waiting.get(key)
                if later is None:
                    return
                self._waiting[key] = None
                seq, stored_at = later
        finally:
            self._waiting.pop(key, None)

    async def _notify(self, account_id: str) -> None:
        try:
            decision = await self._limiter.hit(NOTIFY_EVERY, account_id)
            if not decision.allowed:
                return
            account = await self._accounts.get(account_id)
            if account is None:
                return
            await self._mailer.send(account.email, SUBJECT, BODY)
            if self._hook is not None:
                await self._hook(account_id)
        except (OSError, RateLimiterUnavailable) as exc:
            log.warning("notification not sent", extra={"fields": {"error": type(exc).__name__}})

    async def _seen(self, account_id: str, thread_id: str, seq: int) -> bool:
        if (await self._threads.read_marks(account_id, [thread_id])).get(thread_id, 0) >= seq:
            return True
        return await self._cursors.any_device_has(account_id, thread_id, seq)
