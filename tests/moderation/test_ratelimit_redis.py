"""What only the shared limiter promises: shared budgets, privacy, expiry, failure."""

from __future__ import annotations

import asyncio
import re

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from chat_server.clock import ManualClock
from chat_server.embedded.processes import free_port
from moderation.ratelimit import RateLimit, RateLimiterUnavailable, RedisRateLimiter
from tests.moderation.conftest import KEY_SECRET
from tests.services import Services

LOGIN = RateLimit("login", limit=5, window_seconds=60)
EMAIL = "alice.patient@example.org"
IP = "203.0.113.77"


async def test_two_processes_share_one_budget(
    services: Services, redis_prefix: str, clock: ManualClock
) -> None:
    # Two clients, two limiters: what two server processes would hold.
    first = aioredis.Redis.from_url(services.redis.url)
    second = aioredis.Redis.from_url(services.redis.url)
    try:
        a = RedisRateLimiter(first, redis_prefix, clock, key_secret=KEY_SECRET)
        b = RedisRateLimiter(second, redis_prefix, clock, key_secret=KEY_SECRET)
        results = await asyncio.gather(*(lim.hit(LOGIN, EMAIL) for lim in [a, b] * 4))
        assert sum(d.allowed for d in results) == 5
        assert not (await b.hit(LOGIN, EMAIL)).allowed
        await a.reset(LOGIN, EMAIL)
        assert (await b.hit(LOGIN, EMAIL)).allowed
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_never_holds_the_key_in_clear(
    redis_client: aioredis.Redis, redis_prefix: str, clock: ManualClock
) -> None:
    limiter = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    await limiter.hit(LOGIN, EMAIL)
    # A window of a minute, not a second: Redis expires the key in real time, and a
    # busy CI machine once took longer than a second to get to the scan.
    await limiter.hit(RateLimit("ws-frames", 100, 60), IP)
    names = [name async for name in redis_client.scan_iter(match=f"{redis_prefix}*")]
    assert len(names) == 2
    for name in names:
        assert re.fullmatch(rf"{redis_prefix}rl:(login|ws-frames):[0-9a-f]{{32}}", name.decode())
        stored = await redis_client.hgetall(name)
        everything = name.decode() + repr(stored)
        for secret in (EMAIL, IP, "alice", "203.0.113"):
            assert secret not in everything


async def test_another_secret_gives_other_keys(
    redis_client: aioredis.Redis, redis_prefix: str, clock: ManualClock
) -> None:
    ours = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    theirs = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=b"z" * 32)
    assert ours.redis_key(LOGIN, EMAIL) != theirs.redis_key(LOGIN, EMAIL)
    with pytest.raises(ValueError, match="secret"):
        RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=b"short")


async def test_keys_expire_on_their_own(
    redis_client: aioredis.Redis, redis_prefix: str, clock: ManualClock
) -> None:
    limiter = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    for _ in range(5):
        await limiter.hit(LOGIN, EMAIL)
    # A full bucket drains in one window: the key lives no longer than that.
    ttl = await redis_client.pttl(limiter.redis_key(LOGIN, EMAIL))
    assert 59_000 < ttl <= 60_000
    brief = RateLimit("brief", limit=1, window_seconds=0.05)
    await limiter.hit(brief, EMAIL)
    assert 0 < await redis_client.pttl(limiter.redis_key(brief, EMAIL)) <= 50
    await asyncio.sleep(0.2)
    assert await redis_client.exists(limiter.redis_key(brief, EMAIL)) == 0


async def test_survives_a_script_flush(
    redis_client: aioredis.Redis, redis_prefix: str, clock: ManualClock
) -> None:
    # Redis restarted or failed over: EVALSHA gets NOSCRIPT and the script is reloaded.
    limiter = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    await limiter.hit(LOGIN, EMAIL)
    await redis_client.script_flush()
    assert (await limiter.hit(LOGIN, EMAIL)).remaining == 3


async def test_redis_down_raises_unavailable(clock: ManualClock) -> None:
    # redis-py's default retries back off for seconds; the server should configure a
    # short budget like this one so a Redis outage answers quickly.
    client = aioredis.Redis(
        port=free_port(),
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), retries=1),
    )
    try:
        limiter = RedisRateLimiter(client, "t:", clock, key_secret=KEY_SECRET)
        with pytest.raises(RateLimiterUnavailable) as caught:
            await limiter.hit(LOGIN, EMAIL)
        assert EMAIL not in str(caught.value)
        with pytest.raises(RateLimiterUnavailable):
            await limiter.reset(LOGIN, EMAIL)
    finally:
        await client.aclose()


async def test_hits_made_together_share_a_pipeline_and_keep_their_budgets(
    redis_client: aioredis.Redis, redis_prefix: str, clock: ManualClock
) -> None:
    # One turn of the event loop: 300 hits on 30 keys of 5 each go out as one pipeline;
    # every script still runs alone, so each key admits exactly its limit.
    limiter = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    keys = [f"user{n % 30}@example.org" for n in range(300)]
    decisions = await asyncio.gather(*(limiter.hit(LOGIN, key) for key in keys))
    allowed: dict[str, int] = {}
    for key, decision in zip(keys, decisions, strict=True):
        allowed[key] = allowed.get(key, 0) + decision.allowed
    assert set(allowed.values()) == {5}


async def test_a_caller_that_stops_waiting_leaves_the_others_answered(
    redis_client: aioredis.Redis, redis_prefix: str, clock: ManualClock
) -> None:
    limiter = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    impatient = asyncio.ensure_future(limiter.hit(LOGIN, EMAIL))
    others = [asyncio.ensure_future(limiter.hit(LOGIN, f"{n}{EMAIL}")) for n in range(5)]
    await asyncio.sleep(0)  # all five are queued for the same pipeline
    impatient.cancel()
    assert all(d.allowed for d in await asyncio.gather(*others))
    # Its hit was in the pipeline all the same: spent, like a reply that came too late.
    assert (await limiter.hit(LOGIN, EMAIL)).remaining == 3


async def test_a_pipeline_survives_a_script_flush(
    redis_client: aioredis.Redis, redis_prefix: str, clock: ManualClock
) -> None:
    limiter = RedisRateLimiter(redis_client, redis_prefix, clock, key_secret=KEY_SECRET)
    await limiter.hit(LOGIN, EMAIL)
    await redis_client.script_flush()
    decisions = await asyncio.gather(*(limiter.hit(LOGIN, EMAIL) for _ in range(6)))
    assert [d.allowed for d in decisions] == [True] * 4 + [False] * 2
