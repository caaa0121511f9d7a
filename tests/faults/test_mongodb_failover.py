"""The MongoDB primary killed with SIGKILL in the middle of the load: a new primary is
elected, the servers' retryable writes and the clients' resends (same client_msg_id)
carry on, and every acknowledged message survives — it was written with
``w: "majority"``, so the surviving members had it before the ack left."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import (
    Workload,
    build_cast,
    devices_of,
    run_load,
    server_env,
    until,
    verify,
)
from tests.faults.ledger import Ledger, State
from tests.faults.replica_set import ReplicaSet
from tests.servers import ServerProcess, server_pair
from tests.services import Services


@pytest.fixture
def replica_set(tmp_path: Path) -> Iterator[ReplicaSet]:
    with ReplicaSet(tmp_path / "replica-set") as started:
        yield started


@pytest.fixture
def env(services: Services, replica_set: ReplicaSet) -> dict[str, str]:
    return server_env(replica_set.uri, services.redis.url)


@pytest.fixture
def servers(env: dict[str, str], tmp_path: Path) -> Iterator[list[ServerProcess]]:
    with server_pair(tmp_path, env) as started:
        yield started


async def test_acked_messages_survive_the_loss_of_the_primary(
    replica_set: ReplicaSet, env: dict[str, str], servers: list[ServerProcess], tmp_path: Path
) -> None:
    cast = await build_cast(servers[0].url, tmp_path)
    ledger = Ledger()
    bases = [s.url for s in servers]
    async with devices_of(cast, bases, ledger, seed=31, ack_timeout=20) as devices:
        load = asyncio.create_task(
            run_load(cast, devices.values(), Workload(messages=80), seed=32, seconds=120)
        )
        await until(lambda: ledger.acked >= 120, 60, "120 acks before the failover")
        old = await asyncio.to_thread(replica_set.primary)
        assert old is not None
        old.kill()
        at_kill = ledger.acked
        new = await asyncio.to_thread(replica_set.wait_for_primary, 30)
        assert new is not old
        progress = await load
        assert ledger.acked > at_kill + 100  # the load went on against the new primary
        # Sends in flight waited out the election (retryable writes), none was lost.
        assert max(t for spent in progress.latencies.values() for t in spent) > 0.5
        verdict = await verify(
            cast, ledger, devices.values(), replica_set.uri, env["CARECHAT_MONGODB_DB"]
        )
    assert verdict.states[State.ACKED] > 400
