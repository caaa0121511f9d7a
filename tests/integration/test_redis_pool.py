"""The server's Redis pool waits for a free connection instead of failing a call.

redis-py's default pool raises past its connection limit; under load every send
spends its rate-limit budget with a script call, so a busy process failed its limiter
open and dropped fan-out events (seen in `carechat bench --processes 2 --redis`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.app import create_app
from chat_server.appkeys import REDIS
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from moderation.ratelimit import RateLimit, RedisRateLimiter

POOL = 4
CALLS = 300
MESSAGES = RateLimit("message", limit=1_000, window_seconds=60)


async def test_more_concurrent_calls_than_connections_all_get_answers(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    small = dataclasses.replace(settings, redis_pool_size=POOL)
    app = create_app(small, clock=clock, mailer=outbox, sms=outbox)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
    redis = client.app[REDIS]
    limiter = RedisRateLimiter(redis, small.redis_prefix, clock, key_secret=b"k" * 32)

    decisions = await asyncio.gather(
        *(limiter.hit(MESSAGES, f"device-{n % 50}") for n in range(CALLS))
    )

    assert all(d.allowed for d in decisions)
    pool = redis.connection_pool
    opened = len(pool._available_connections) + len(pool._in_use_connections)
    assert 0 < opened <= POOL
