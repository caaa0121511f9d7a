"""Rate limits as errors: a refused hit becomes :class:`RateLimited` with Retry-After.

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

from chat_server.errors import RateLimited, Unavailable
from moderation.ratelimit import (
    MemoryRateLimiter,
    RateLimit,
    RateLimiter,
    RateLimiterUnavailable,
)

log = logging.getLogger(__name__)


class Throttle:
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        # The in-process limiter answers without ever waiting: no timer to arm (one
        # per send would cost a few percent of a message's CPU).
        self._may_wait = not isinstance(limiter, MemoryRateLimiter)

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
            if wait_at_most is None or not self._may_wait:
                decision = await self._limiter.hit(policy, key, cost=cost)
            else:
                async with asyncio.timeout(wait_at_most):
                    decision = await self._limiter.hit(policy, key, cost=cost)
        except (RateLimiterUnavailable, TimeoutError):
            log.warning("rate limiter unavailable", extra={"fields": {"policy": policy.name}})
            if fail_closed:
                raise Unavailable(retry_after=5.0) from None
            return
        if not decision.allowed:
            raise refusal(retry_after=decision.retry_after)

    async def reset(self, policy: RateLimit, key: str) -> None:
        try:
            await self._limiter.reset(policy, key)
        except RateLimiterUnavailable:
            return
