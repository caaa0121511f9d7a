"""A Redis that stops answering (SIGSTOP: its sockets stay open, nothing replies)
must not hold up acks: a send waits for MongoDB, never for Redis. The send's rate
limit gives up on Redis quickly and fails open, and the fan-out publication is queued
rather than awaited. Nothing is lost: once Redis answers again, what was queued is
published and the recipient on the other process has every message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_server.embedded.redis_server import LocalRedis
from tests.faults.harness import build_cast, devices_of, server_env, until, verify
from tests.faults.ledger import Ledger, State
from tests.servers import ServerProcess, server_pair
from tests.services import Services, database_dropped

# Well under redis-py's 2 s socket timeout, which a send that waited for Redis would
# run into; the send path itself gives Redis 50 ms (handlers/intake.py).
ACK_BOUND_SECONDS = 1.0


@pytest.fixture
def redis() -> Iterator[LocalRedis]:
    redis = LocalRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()  # resumes it first


@pytest.fixture
def env(services: Services, redis: LocalRedis) -> dict[str, str]:
    # The default send limits (device, account, address): every send asks the Redis
    # limiter, in one call (moderation/limits.py).
    env = server_env(services.mongo.uri, redis.url)
    for name in ("DEVICE", "ACCOUNT", "IP"):
        del env[f"CARECHAT_SEND_LIMIT_PER_{name}"]
    return env


@pytest.fixture
def servers(env: dict[str, str], tmp_path: Path) -> Iterator[list[ServerProcess]]:
    with database_dropped(env), server_pair(tmp_path, env) as started:
        yield started


async def test_acks_do_not_wait_for_a_stopped_redis_and_nothing_is_lost(
    services: Services, redis: LocalRedis, env: dict[str, str], servers: list[ServerProcess],
    tmp_path: Path,
) -> None:  # fmt: skip
    cast = await build_cast(servers[0].url, tmp_path)
    ledger = Ledger()
    thread = cast.pairs[("ann", "doc1")]
    bases = [s.url for s in servers]
    async with devices_of(cast, bases, ledger, seed=5, pinned=True) as devices:
        patient = devices[cast.device("ann", "ann-tablet")]
        doctor = devices[cast.device("doc1", "doc1-phone")]
        assert (patient.base, doctor.base) == (bases[0], bases[1])
        to = cast.threads[thread]
        await patient.send(thread, to, "before the stall")
        await until(lambda: doctor.inbox.cursor(thread) == 1, 5, "live delivery")

        redis.pause()
        try:
            waits = []
            for i in range(5):
                started = time.perf_counter()
                # Bounded, so a send stuck behind Redis fails this test, not its deadline.
                record = await asyncio.wait_for(
                    patient.send(thread, to, f"during the stall {i}"), 10
                )
                waits.append(time.perf_counter() - started)
                assert record.state is State.ACKED
                assert len(record.attempts) == 1  # acked at the first attempt
            assert max(waits) < ACK_BOUND_SECONDS, waits
            await asyncio.sleep(0.5)
        finally:
            redis.resume()
        # The queued publications go out: the doctor has all of them, on the same socket.
        await until(lambda: doctor.inbox.cursor(thread) == 6, 20, "the catch-up")
        await doctor.send(thread, to, "after the stall")
        await until(lambda: patient.inbox.cursor(thread) == 7, 10, "live delivery again")
        await verify(cast, ledger, devices.values(), services.mongo.uri, env["CARECHAT_MONGODB_DB"])
