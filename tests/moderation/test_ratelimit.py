"""Rate-limit behaviour, run against both limiters: real Redis and in-process memory."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from chat_server.clock import ManualClock
from moderation.ratelimit import (
    Decision,
    MemoryRateLimiter,
    RateLimit,
    RateLimiter,
    RedisRateLimiter,
)
from tests.moderation.conftest import KEY_SECRET

LOGIN = RateLimit("login", limit=5, window_seconds=60)
BYTES = RateLimit("bytes", limit=10, window_seconds=10)

MakeLimiter = Callable[[], RateLimiter]


@pytest.fixture(params=["memory", "redis"])
def make_limiter(
    request: pytest.FixtureRequest,
    clock: ManualClock,
    redis_client: aioredis.Redis,
    redis_prefix: str,
) -> MakeLimiter:
    """Builds limiters that share state the way their implementation does."""
    if request.param == "memory":
        limiter = MemoryRateLimiter(clock)
        return lambda: limiter
    return lambda: RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)


async def test_limit_is_a_burst_then_refused(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    decisions = [await limiter.hit(LOGIN, "alice@example.org") for _ in range(6)]
    assert decisions[:5] == [Decision(True, remaining, 0.0) for remaining in (4, 3, 2, 1, 0)]
    # One unit comes back every window / limit = 12 s.
    assert decisions[5] == Decision(False, 0, 12.0)


async def test_retry_after_is_exact_and_refusals_spend_nothing(
    make_limiter: MakeLimiter, clock: ManualClock
) -> None:
    limiter = make_limiter()
    for _ in range(5):
        await limiter.hit(LOGIN, "alice@example.org")
    clock.advance(11.999)
    refused = await limiter.hit(LOGIN, "alice@example.org")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.001)
    clock.advance(0.001)
    assert (await limiter.hit(LOGIN, "alice@example.org")).allowed
    assert not (await limiter.hit(LOGIN, "alice@example.org")).allowed


async def test_window_slides_and_refills(make_limiter: MakeLimiter, clock: ManualClock) -> None:
    limiter = make_limiter()
    for _ in range(5):
        await limiter.hit(LOGIN, "k")
    clock.advance(30)  # half a window: 2.5 units back, so two hits
    assert [(await limiter.hit(LOGIN, "k")).allowed for _ in range(3)] == [True, True, False]
    clock.advance(60)
    decisions = [await limiter.hit(LOGIN, "k") for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]


async def test_cost_above_one(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert await limiter.hit(BYTES, "dev", cost=4) == Decision(True, 6, 0.0)
    assert await limiter.hit(BYTES, "dev", cost=4) == Decision(True, 2, 0.0)
    # Two units short; each takes 1 s to come back. The refusal spends nothing.
    assert await limiter.hit(BYTES, "dev", cost=4) == Decision(False, 2, 2.0)
    assert await limiter.hit(BYTES, "dev", cost=2) == Decision(True, 0, 0.0)


@pytest.mark.parametrize("cost", [0, -1, 11])
async def test_cost_outside_the_policy_is_a_bug(make_limiter: MakeLimiter, cost: int) -> None:
    with pytest.raises(ValueError, match="cost"):
        await make_limiter().hit(BYTES, "dev", cost=cost)


async def test_keys_and_policies_are_independent(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    for _ in range(5):
        await limiter.hit(LOGIN, "alice@example.org")
    assert not (await limiter.hit(LOGIN, "alice@example.org")).allowed
    assert (await limiter.hit(LOGIN, "bob@example.org")).allowed
    other_policy = RateLimit("directory", limit=5, window_seconds=60)
    assert (await limiter.hit(other_policy, "alice@example.org")).allowed


async def test_reset_gives_the_budget_back(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    for _ in range(5):
        await limiter.hit(LOGIN, "alice@example.org")
    await limiter.reset(LOGIN, "alice@example.org")
    assert await limiter.hit(LOGIN, "alice@example.org") == Decision(True, 4, 0.0)
    await limiter.reset(LOGIN, "never-seen")  # resetting nothing is fine


async def test_a_clock_going_backwards_refills_nothing(
    make_limiter: MakeLimiter, clock: ManualClock
) -> None:
    limiter = make_limiter()
    for _ in range(5):
        await limiter.hit(LOGIN, "k")
    clock.advance(-30)
    assert not (await limiter.hit(LOGIN, "k")).allowed
    clock.advance(30 + 12)
    assert (await limiter.hit(LOGIN, "k")).allowed


@pytest.mark.parametrize(
    ("name", "limit", "window"),
    [
        ("Login", 5, 60),
        ("a:b", 5, 60),
        ("", 5, 60),
        ("ok", 0, 60),
        ("ok", 5, 0),
        ("ok", 10**9, 10**8),
    ],
)
def test_policies_are_validated(name: str, limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="must"):
        RateLimit(name, limit, window)


async def test_redis_and_memory_agree_step_by_step(
    clock: ManualClock, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """The Lua script and its Python twin give identical decisions, random walk."""
    memory = MemoryRateLimiter(clock)
    shared = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    rng = random.Random(20260101)
    # Redis drops a drained bucket after its TTL in real time while this test moves a
    # manual clock: the shortest window (10 s) stays far above any stall of a busy
    # machine during the walk, which would otherwise make the twins disagree.
    policies = [
        RateLimit("a", limit=3, window_seconds=10),
        RateLimit("b", limit=7, window_seconds=60),
        RateLimit("c", limit=1000, window_seconds=3600),
    ]
    for _ in range(400):
        policy = rng.choice(policies)
        key = rng.choice(["x", "y"])
        cost = rng.randint(1, min(policy.limit, 4))
        clock.advance(rng.choice([0, 0, 0.001, 0.1, 0.5, 3.7, 61]))
        assert await memory.hit(policy, key, cost=cost) == await shared.hit(policy, key, cost=cost)
