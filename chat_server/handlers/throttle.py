"""Rate limits as errors: a refused hit becomes :class:`RateLimited` with Retry-After.

When the limiter's backend (Redis) is down we let the request through and log it:
throttling is a defence in depth, and refusing every login or message while Redis
restarts would turn a cache outage into a full outage.
"""

from __future__ import annotations

import logging

from chat_server.errors import RateLimited
from moderation.ratelimit import RateLimit, RateLimiter, RateLimiterUnavailable

log = logging.getLogger(__name__)


class Throttle:
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def check(self, policy: RateLimit, key: str, *, cost: int = 1) -> None:
        try:
            decision = await self._limiter.hit(policy, key, cost=cost)
        except RateLimiterUnavailable:
            log.warning(
                "rate limiter unavailable; allowing", extra={"fields": {"policy": policy.name}}
            )
            return
        if not decision.allowed:
            raise RateLimited(retry_after=decision.retry_after)

    async def reset(self, policy: RateLimit, key: str) -> None:
        try:
            await self._limiter.reset(policy, key)
        except RateLimiterUnavailable:
            return
