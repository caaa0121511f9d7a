"""One hit over several buckets, and the action table: real Redis and in-process memory."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from chat_server.clock import ManualClock
from moderation.limits import (
    DEFAULT_TABLE,
    Action,
    ActionLimits,
    Budget,
    Scope,
    Subject,
    with_overrides,
)
from moderation.ratelimit import (
    Decision,
    Hit,
    MemoryRateLimiter,
    RateLimit,
    RateLimiter,
    RedisRateLimiter,
)
from tests.moderation.conftest import KEY_SECRET

DEVICE = RateLimit("dev", limit=3, window_seconds=30)  # one back every 10 s
ACCOUNT = RateLimit("acct", limit=5, window_seconds=100)  # one back every 20 s

MakeLimiter = Callable[[], RateLimiter]


@pytest.fixture(params=["memory", "redis"])
def limiter(
    request: pytest.FixtureRequest,
    clock: ManualClock,
    redis_client: aioredis.Redis,
    redis_prefix: str,
) -> RateLimiter:
    if request.param == "memory":
        return MemoryRateLimiter(clock)
    return RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)


async def test_every_bucket_must_have_room_and_a_refusal_spends_nowhere(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    phone = [Hit(DEVICE, "phone"), Hit(ACCOUNT, "ann")]
    laptop = [Hit(DEVICE, "laptop"), Hit(ACCOUNT, "ann")]
    assert [await limiter.hit_many(phone) for _ in range(3)] == [
        Decision(True, 2, 0.0),
        Decision(True, 1, 0.0),
        Decision(True, 0, 0.0),
    ]
    # The device is empty: refused, and the account's bucket was not spent.
    assert await limiter.hit_many(phone) == Decision(False, 0, 10.0)
    assert await limiter.hit_many(laptop) == Decision(True, 1, 0.0)
    # Now the account is the one short: its wait (20 s) is the answer.
    assert await limiter.hit_many(laptop) == Decision(True, 0, 0.0)
    refused = await limiter.hit_many(laptop)
    assert refused == Decision(False, 0, 20.0)
    clock.advance(20)
    assert (await limiter.hit_many(laptop)).allowed


async def test_a_refused_hit_reports_what_the_others_still_hold(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(DEVICE, "phone")
    # The account still has 5; the device none: remaining is the smaller.
    decision = await limiter.hit_many([Hit(ACCOUNT, "ann"), Hit(DEVICE, "phone")])
    assert decision == Decision(False, 0, 10.0)
    assert await limiter.hit(ACCOUNT, "ann") == Decision(True, 4, 0.0)


@pytest.mark.parametrize(
    "hits",
    [[], [Hit(DEVICE, "a"), Hit(DEVICE, "a")]],
    ids=["none", "twice"],
)
async def test_a_hit_names_each_bucket_once(limiter: RateLimiter, hits: list[Hit]) -> None:
    with pytest.raises(ValueError, match="names"):
        await limiter.hit_many(hits)


async def test_cost_must_fit_every_bucket(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError, match="cost"):
        await limiter.hit_many([Hit(ACCOUNT, "ann"), Hit(DEVICE, "phone")], cost=4)


async def test_redis_and_memory_agree_on_many_buckets(
    clock: ManualClock, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    memory = MemoryRateLimiter(clock)
    shared = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    rng = random.Random(20261129)
    policies = [DEVICE, ACCOUNT, RateLimit("ip", limit=8, window_seconds=5)]
    for _ in range(300):
        chosen = rng.sample(policies, rng.randint(1, 3))
        hits = [Hit(policy, rng.choice(["x", "y"])) for policy in chosen]
        clock.advance(rng.choice([0, 0, 0.5, 3, 11, 40]))
        assert await memory.hit_many(hits) == await shared.hit_many(hits)


async def _commands(client: aioredis.Redis) -> dict[str, int]:
    """Commands the server has run by name (those a script calls too), INFO left out."""
    stats = await client.info("commandstats")
    return {k: int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info"}


async def test_an_action_is_one_script_call_in_redis(
    clock: ManualClock, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    shared = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    limits = ActionLimits(shared)
    subject = Subject(account="ann", device="phone", ip="192.0.2.7")
    await limits.check(Action.MESSAGE, subject)  # loads the script
    # The test session's own Redis, and nothing else runs while this test awaits.
    before = await _commands(redis_client)
    await limits.check(Action.MESSAGE, subject)
    after = await _commands(redis_client)
    ran = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # One EVALSHA; inside it, one read, one write and one expiry per bucket.
    assert ran == {
        "cmdstat_evalsha": 1,
        "cmdstat_hmget": 3,
        "cmdstat_hset": 3,
        "cmdstat_pexpire": 3,
    }
    # Three scopes, three buckets, written by that one script.
    keys = [key async for key in redis_client.scan_iter(f"{redis_prefix}rl:*")]
    assert sorted(k.decode().split(":")[-2] for k in keys) == [
        "message-account",
        "message-device",
        "message-ip",
    ]


async def test_a_flood_from_one_account_leaves_another_its_budget(clock: ManualClock) -> None:
    table = with_overrides(
        DEFAULT_TABLE,
        {Action.MESSAGE: {Scope.DEVICE: Budget(10, 10), Scope.ACCOUNT: Budget(10, 10)}},
    )
    limits = ActionLimits(MemoryRateLimiter(clock), table)
    flooder = Subject(account="mallory", device="m1", ip="192.0.2.1")
    neighbour = Subject(account="ann", device="a1", ip="192.0.2.1")  # same address
    flood = [await limits.check(Action.MESSAGE, flooder) for _ in range(100)]
    assert sum(d.allowed for d in flood) == 10
    assert all(d.retry_after > 0 for d in flood[10:])
    assert all([(await limits.check(Action.MESSAGE, neighbour)).allowed for _ in range(10)])


async def test_check_now_spends_the_same_buckets_as_check(clock: ManualClock) -> None:
    table = with_overrides(
        DEFAULT_TABLE,
        {Action.MESSAGE: {Scope.DEVICE: Budget(3, 30), Scope.ACCOUNT: Budget(10, 10)}},
    )
    limits = ActionLimits(MemoryRateLimiter(clock), table)
    ann = Subject(account="ann", device="phone", ip="192.0.2.7")
    assert limits.check_now(Action.MESSAGE, ann) == 0.0
    assert (await limits.check(Action.MESSAGE, ann)).allowed
    assert limits.check_now(Action.MESSAGE, ann) == 0.0
    assert limits.check_now(Action.MESSAGE, ann) == 10.0  # one comes back in 30 s / 3
    assert (await limits.check(Action.MESSAGE, ann)).retry_after == 10.0
    # Another device of the same account has its own device budget.
    assert limits.check_now(Action.MESSAGE, Subject("ann", "tablet", "192.0.2.7")) == 0.0


async def test_check_now_leaves_redis_and_partial_subjects_to_check(
    clock: ManualClock, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    shared = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    ann = Subject(account="ann", device="phone", ip="192.0.2.7")
    assert ActionLimits(shared).check_now(Action.MESSAGE, ann) is None
    memory = ActionLimits(MemoryRateLimiter(clock))
    assert memory.check_now(Action.MESSAGE, Subject(account="ann", ip="192.0.2.7")) is None
    assert memory.check_now(Action.LOGIN, Subject(account="ann@example.org", ip="x")) == 0.0


async def test_scopes_the_subject_does_not_name_are_not_limited(clock: ManualClock) -> None:
    limits = ActionLimits(MemoryRateLimiter(clock))
    assert [h.policy.name for h in limits.hits(Action.MESSAGE, Subject(account="a"))] == [
        "message-account"
    ]
    assert limits.hits(Action.TYPING, Subject(ip="192.0.2.1")) == []
    assert await limits.check(Action.TYPING, Subject(ip="192.0.2.1")) == Decision(True, 0, 0.0)


def test_every_action_has_a_budget() -> None:
    assert set(DEFAULT_TABLE) == set(Action)
    assert all(DEFAULT_TABLE[action] for action in Action)
