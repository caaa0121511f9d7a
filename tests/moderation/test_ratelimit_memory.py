"""What only the in-process limiter promises: bounded memory."""

from __future__ import annotations

from chat_server.clock import ManualClock
from moderation.ratelimit import MemoryRateLimiter, RateLimit

LOGIN = RateLimit("login", limit=5, window_seconds=60)


async def test_size_is_capped_least_recently_used_first(clock: ManualClock) -> None:
    limiter = MemoryRateLimiter(clock, max_keys=100)
    for _ in range(5):
        await limiter.hit(LOGIN, "kept")
    for number in range(1000):
        await limiter.hit(LOGIN, f"flood-{number}")
        if number % 50 == 0:
            assert not (await limiter.hit(LOGIN, "kept")).allowed  # touched: stays
    assert len(limiter) == 100
    # The oldest flood keys were dropped and start afresh; the recent ones were not.
    assert (await limiter.hit(LOGIN, "flood-0")).remaining == 4
    assert (await limiter.hit(LOGIN, "flood-999")).remaining == 3


async def test_empty_buckets_are_swept(clock: ManualClock) -> None:
    limiter = MemoryRateLimiter(clock)
    for number in range(10):
        await limiter.hit(LOGIN, f"k{number}")
    clock.advance(12)  # one unit drains in window / limit
    await limiter.hit(LOGIN, "late")
    assert len(limiter) == 1


async def test_a_bucket_still_draining_is_not_swept(clock: ManualClock) -> None:
    limiter = MemoryRateLimiter(clock)
    await limiter.hit(LOGIN, "a", cost=2)
    clock.advance(12)
    await limiter.hit(LOGIN, "b")
    assert len(limiter) == 2
    assert (await limiter.hit(LOGIN, "a")).remaining == 3
