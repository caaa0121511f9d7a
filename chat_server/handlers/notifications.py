"""Telling an offline recipient that a secure message is waiting — and nothing more.

After a message is stored, each other participant gets a delayed check: if by then
none of their devices has received it and they have not read it, they get an e-mail
(and, through the SMS hook, a text) that says only that a message is waiting. No
content, no sender, no specialty: an e-mail is not a confidential channel. At most one
notification per recipient per ``NOTIFY_EVERY`` window.

The check runs on this process's job scheduler; a crash before it fires loses the
notification, not the message (the recipient still gets it on their next sync).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiojobs

from chat_server.mail import Mailer
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.storage.accounts import AccountStore
from chat_server.storage.messages import StoredMessage
from chat_server.storage.threads import Thread, ThreadStore
from moderation.ratelimit import RateLimit, RateLimiter, RateLimiterUnavailable

log = logging.getLogger(__name__)

NOTIFY_EVERY = RateLimit("notify", limit=1, window_seconds=15 * 60)
SUBJECT = "You have a new secure message on CareChat"
BODY = (
    "A new secure message is waiting for you on CareChat.\n\n"
    "Log in to read it. For your privacy this e-mail does not say who wrote or what about.\n"
    + EMERGENCY_NOTICE
)

# Optional extra channel, e.g. an SMS gateway: called with the recipient's account id.
NotifyHook = Callable[[str], Awaitable[None]]


class Notifier:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        threads: ThreadStore,
        mailer: Mailer,
        limiter: RateLimiter,
        scheduler: aiojobs.Scheduler,
        delay_seconds: float,
        hook: NotifyHook | None = None,
    ) -> None:
        self._accounts = accounts
        self._threads = threads
        self._mailer = mailer
        self._limiter = limiter
        self._scheduler = scheduler
        self._delay = delay_seconds
        self._hook = hook

    async def message_stored(self, thread: Thread, message: StoredMessage) -> None:
        for account_id in thread.participants:
            if account_id != message.sender_account:
                await self._scheduler.spawn(self._check_later(account_id, thread.id, message.seq))

    async def _check_later(self, account_id: str, thread_id: str, seq: int) -> None:
        await asyncio.sleep(self._delay)
        try:
            if await self._seen(account_id, thread_id, seq):
                return
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
        return await self._threads.any_device_has(account_id, thread_id, seq)
