"""Redis is never the source of truth: while it is down, live fan-out between
processes stops, and when it is back every socket is told to sync and catches up from
MongoDB, without reconnecting."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from chat_server.embedded.redis_server import LocalRedis
from tests.functional.test_delivery_guarantees import _check_exactly_once, _pair
from tests.servers import ServerProcess, server_pair
from tests.services import Services


@pytest.fixture
def own_redis() -> Iterator[LocalRedis]:
    redis = LocalRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def servers(
    services: Services, own_redis: LocalRedis, tmp_path: Path
) -> Iterator[list[ServerProcess]]:
    env = {
        "CARECHAT_MONGODB_URI": services.mongo.uri,
        "CARECHAT_MONGODB_DB": f"outage_{uuid4().hex[:12]}",
        "CARECHAT_REDIS_URL": own_redis.url,
        "CARECHAT_REDIS_PREFIX": "outage:",
    }
    with server_pair(tmp_path, env) as started:
        yield started


async def _until(condition: object, seconds: float) -> bool:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return bool(condition())


async def test_messages_sent_while_redis_is_down_arrive_after_it_returns(
    servers: list[ServerProcess], own_redis: LocalRedis, tmp_path: Path
) -> None:
    a, b = servers
    async with _pair(servers, tmp_path, seed=3) as (patient, practitioner, to):
        patient.bases, practitioner.bases = [a.url], [b.url]
        await patient.connect()
        await practitioner.connect()
        await patient.send("before the outage", to)
        assert await _until(lambda: len(practitioner.received) == 1, 5)

        own_redis.kill()
        for i in range(5):
            await patient.send(f"during the outage {i}", to)  # stored and acked all the same
        await asyncio.sleep(1.0)
        # Live fan-out to the other process could not happen.
        assert len(practitioner.received) == 1
        reader = practitioner.reader

        restarted = LocalRedis(port=own_redis.port)
        restarted.start()
        try:
            assert await _until(lambda: len(practitioner.received) == 6, 20)
            assert practitioner.reader is reader  # caught up on the same socket
            await practitioner.send("after the outage", to)
            assert await _until(lambda: len(patient.received) == 7, 10)
            await patient.settle()
            await practitioner.settle()
            _check_exactly_once([patient, practitioner])
        finally:
            restarted.stop()
