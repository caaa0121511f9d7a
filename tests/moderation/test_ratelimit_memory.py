"""What only the in-process limiter promises: bounded memory, and a fast path
(``spend``) that meters exactly as ``hit_many`` does."""

from __future__ import annotations

import random

import pytest

from chat_server.clock import ManualClock
from moderation.ratelimit import FixedHits, Hit, MemoryRateLimiter, RateLimit

LOGIN = RateLimit("login", limit=5, window_seconds=60)
DEVICE = RateLimit("dev", limit=3, window_seconds=30)
ACCOUNT = RateLimit("acct", limit=5, window_seconds=100)
IP = RateLimit("ip", limit=8, window_seconds=5)


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


async def test_spend_answers_as_hit_many_does(clock: ManualClock) -> None:
    general, fast = MemoryRateLimiter(clock), MemoryRateLimiter(clock)
    fixed = FixedHits([DEVICE, ACCOUNT, IP])
    rng = random.Random(20261129)
    refused = 0
    for _ in range(2000):
        keys = (rng.choice("abc"), rng.choice("xy"), "192.0.2.7")
        clock.advance(rng.choice([0, 0, 0, 0.001, 0.5, 3, 11, 40]))
        decision = await general.hit_many(
            [Hit(p, k) for p, k in zip(fixed.policies, keys, strict=True)]
        )
        retry_after = fast.spend(fixed, keys)
        assert retry_after == decision.retry_after
        assert (retry_after == 0.0) is decision.allowed
        refused += not decision.allowed
    assert 200 < refused < 1800  # both answers were exercised, many times
    assert len(fast) == len(general)


async def test_spend_and_hit_many_meter_the_same_buckets(clock: ManualClock) -> None:
    limiter = MemoryRateLimiter(clock)
    fixed = FixedHits([DEVICE, ACCOUNT])
    assert limiter.spend(fixed, ("phone", "ann")) == 0.0
    assert limiter.spend(fixed, ("phone", "ann")) == 0.0
    # The device's third unit is left: spent through the general path, then refused.
    assert (await limiter.hit_many([Hit(DEVICE, "phone"), Hit(ACCOUNT, "ann")])).remaining == 0
    assert limiter.spend(fixed, ("phone", "ann")) == 10.0
    # The refusal spent nothing: the account still has two of five.
    assert (await limiter.hit(ACCOUNT, "ann")).remaining == 1


async def test_a_refused_spend_writes_nothing(clock: ManualClock) -> None:
    limiter = MemoryRateLimiter(clock)
    fixed = FixedHits([LOGIN, DEVICE])
    for _ in range(3):
        assert limiter.spend(fixed, ("ann", "phone")) == 0.0
    # The device is out; the login budget, with room, is left as it was.
    assert limiter.spend(fixed, ("ann", "phone")) == 10.0
    assert (await limiter.hit(LOGIN, "ann")).remaining == 1


def test_spend_keeps_memory_bounded(clock: ManualClock) -> None:
    limiter = MemoryRateLimiter(clock, max_keys=10)
    fixed = FixedHits([LOGIN])
    for number in range(100):
        limiter.spend(fixed, (f"k{number}",))
    assert len(limiter) == 10
    clock.advance(60)  # every bucket has emptied: the next hit sweeps them
    limiter.spend(fixed, ("late",))
    assert len(limiter) == 1


def test_fixed_hits_name_each_bucket_once() -> None:
    with pytest.raises(ValueError, match="once"):
        FixedHits([LOGIN, LOGIN])
    with pytest.raises(ValueError, match="at least one"):
        FixedHits([])
