"""Rate limits as errors: a refused hit becomes :class:`RateLimited` with Retry-After.

Every limited action goes through ``moderation.limits`` (:meth:`Throttle.action`):
one table of budgets per action and scope (account, device, address), spent in one
limiter call. A few one-off budgets that belong to one flow (password-reset mails
per address, phone codes per invitation) are named policies of their own and go
through :meth:`Throttle.check`, the same limiter.

When the limiter's backend (Redis) is down, most limits let the request through and
log it: refusing every message while Redis restarts would turn a cache outage into a
full outage. ``wait_at_most`` bounds how long a check may wait for the limiter (a
stopped Redis answers nothing, which a socket timeout finds only after seconds);
past it the limiter counts as unavailable. Limits that guard against guessing
(logins) pass ``fail_closed=True`` and answer 503 instead, so an outage never opens a
window for password spraying.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from chat_server.errors import RateLimited, Unavailable
from chat_server.principal import Principal
from moderation.limits import Action, ActionLimits, Scope, Subject
from moderation.ratelimit import (
    Decision,
    Hit,
    MemoryRateLimiter,
    RateLimit,
    RateLimiter,
    RateLimiterUnavailable,
)

log = logging.getLogger(__name__)


def subject_of(who: Principal) -> Subject:
    """The scopes a principal is limited in: its account, device and address."""
    return Subject(account=who.account_id, device=who.device_id, ip=who.ip)


class Throttle:
    def __init__(self, limiter: RateLimiter, actions: ActionLimits | None = None) -> None:
        self._limiter = limiter
        self._actions = actions if actions is not None else ActionLimits(limiter)
        # The in-process limiter answers without ever waiting: no timer to arm (one
        # per send would cost a few percent of a message's CPU).
        self._may_wait = not isinstance(limiter, MemoryRateLimiter)
        self._outage = OutageLog()

    async def action(
        self,
        action: Action,
        subject: Subject,
        *,
        fail_closed: bool = False,
        refusal: type[RateLimited] = RateLimited,
        wait_at_most: float | None = None,
    ) -> None:
        """Spends one ``action`` in every scope ``subject`` names (one limiter call).

        ``wait_at_most`` (seconds) counts a limiter that has not answered by then as
        unavailable: open or closed as ``fail_closed`` says.
        """
        # The in-process limiter answers on the spot (no hit list, no decision).
        retry_after = self._actions.check_now(action, subject)
        if retry_after is not None:
            if retry_after:
                raise refusal(retry_after=retry_after)
            return
        try:
            if wait_at_most is None or not self._may_wait:
                decision = await self._actions.check(action, subject)
            else:
                async with asyncio.timeout(wait_at_most):
                    decision = await self._actions.check(action, subject)
        except (RateLimiterUnavailable, TimeoutError):
            self._outage.happened(str(action))
            if fail_closed:
                raise Unavailable(retry_after=5.0) from None
            return
        _raise_if_refused(decision, refusal)

    async def check(
        self,
        policy: RateLimit,
        key: str,
        *,
        cost: int = 1,
        fail_closed: bool = False,
        refusal: type[RateLimited] = RateLimited,
        wait_at_most: float | None = None,
    ) -> None:
        try:
            hits = (Hit(policy, key),)
            if wait_at_most is None or not self._may_wait:
                decision = await self._limiter.hit_many(hits, cost=cost)
            else:
                async with asyncio.timeout(wait_at_most):
                    decision = await self._limiter.hit_many(hits, cost=cost)
        except (RateLimiterUnavailable, TimeoutError):
            self._outage.happened(policy.name)
            if fail_closed:
                raise Unavailable(retry_after=5.0) from None
            return
        _raise_if_refused(decision, refusal)

    async def forget(self, keys: Iterable[str], policies: Iterable[RateLimit] = ()) -> None:
        """Drops ``keys``' buckets in every action's budgets and in ``policies`` (an
        erased account's identifiers). Unlike a reset this raises when the limiter is
        down, so the erasure job retries instead of leaving buckets behind."""
        every = [*self._actions.every_policy(), *policies]
        for key in keys:
            for policy in every:
                await self._limiter.reset(policy, key)

    async def reset_action(self, action: Action, scope: Scope, key: str) -> None:
        try:
            await self._actions.reset(action, scope, key)
        except RateLimiterUnavailable:
            return


class OutageLog:
    """Says that the limiter is unavailable once per budget, then at most every
    ``every`` seconds with how many checks it let through or refused meanwhile: a slow
    Redis fails every send's check, and a warning per send would flood the log (and
    spend the CPU the server is short of)."""

    def __init__(self, every: float = 10.0, monotonic: Callable[[], float] | None = None) -> None:
        self._every = every
        self._monotonic = monotonic  # the event loop's clock unless given (tests)
        self._since: dict[str, tuple[float, int]] = {}  # budget -> (last said, unsaid)

    def happened(self, budget: str) -> None:
        # Monotonic; it only paces a log line.
        now = self._monotonic() if self._monotonic else asyncio.get_running_loop().time()
        said, unsaid = self._since.get(budget, (now - self._every, 0))
        if now - said < self._every:
            self._since[budget] = (said, unsaid + 1)
            return
        self._since[budget] = (now, 0)
        log.warning(
            "rate limiter unavailable",
            extra={"fields": {"budget": budget, "times": unsaid + 1}},
        )


def _raise_if_refused(decision: Decision, refusal: type[RateLimited]) -> None:
    if not decision.allowed:
        raise refusal(retry_after=decision.retry_after)
