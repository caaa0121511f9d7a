"""The one Redis client a server process holds: fan-out, rate limits, tickets.

Its connection pool *waits* for a free connection. redis-py's default pool raises
``MaxConnectionsError`` past 100 connections in use, and a busy process has more
concurrent Redis calls than that (every send spends its rate-limit budget with one
script call): the limiter then failed open and fan-out events were dropped, owed to
their accounts as a resync. Waiting a moment for one of ``pool_size`` connections
costs latency instead, and Redis, single-threaded, serves no faster over more.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

# How long a call may wait for a free connection, as long as it may wait for an answer:
# past it the call fails like a slow Redis (the limiter opens, fan-out owes a resync).
POOL_WAIT_SECONDS = 2.0


def make_redis_client(url: str, *, pool_size: int) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=POOL_WAIT_SECONDS,
        health_check_interval=10,
        # Short timeouts and one immediate retry: a Redis outage must cost a request
        # milliseconds, not redis-py's default seconds of backoff.
        socket_connect_timeout=1.0,
        socket_timeout=POOL_WAIT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )
    # from_pool: the client owns the pool, so its aclose() closes the connections too.
    return aioredis.Redis.from_pool(pool)
