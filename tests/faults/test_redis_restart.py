"""Redis is never the source of truth: killed with SIGKILL and restarted on the same
port, it costs live fan-out between processes for a while, never a message. Sends keep
being acked (rate limits fail open for sends), and once the brokers have resubscribed
every socket is told to ``resync`` and catches up from MongoDB without reconnecting."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_server.embedded.redis_server import LocalRedis
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
from tests.servers import ServerProcess, server_pair
from tests.services import Services, database_dropped


class Redises:
    """The test's own Redis, and whichever restarts of it the test makes."""

    def __init__(self) -> None:
        self.first = LocalRedis()
        self.started = [self.first]

    def restart(self) -> LocalRedis:
        again = LocalRedis(port=self.first.port, password=self.first.password)
        self.started.append(again)
        again.start()
        return again


@pytest.fixture
def redises() -> Iterator[Redises]:
    redises = Redises()
    redises.first.start()
    try:
        yield redises
    finally:
        for redis in redises.started:
            redis.stop()


@pytest.fixture
def env(services: Services, redises: Redises) -> dict[str, str]:
    return server_env(services.mongo.uri, redises.first.url)


@pytest.fixture
def servers(env: dict[str, str], tmp_path: Path) -> Iterator[list[ServerProcess]]:
    with database_dropped(env), server_pair(tmp_path, env) as started:
        yield started


async def test_messages_sent_while_redis_is_down_arrive_after_it_returns(
    services: Services, redises: Redises, env: dict[str, str], servers: list[ServerProcess],
    tmp_path: Path,
) -> None:  # fmt: skip
    cast = await build_cast(servers[0].url, tmp_path)
    ledger = Ledger()
    thread = cast.pairs[("ann", "doc1")]
    bases = [s.url for s in servers]
    async with devices_of(cast, bases, ledger, seed=3, pinned=True) as devices:
        patient = devices[cast.device("ann", "ann-tablet")]
        doctor = devices[cast.device("doc1", "doc1-phone")]
        assert (patient.base, doctor.base) == (bases[0], bases[1])
        to = cast.threads[thread]
        await patient.send(thread, to, "before the outage")
        await until(lambda: doctor.inbox.cursor(thread) == 1, 5, "live delivery")

        redises.first.kill()
        for i in range(5):
            record = await patient.send(thread, to, f"during the outage {i}")
            assert record.state is State.ACKED  # stored and acked all the same
        await asyncio.sleep(1.0)
        # Live fan-out to the other process could not happen.
        assert doctor.inbox.cursor(thread) == 1
        connections = doctor.connections

        redises.restart()
        await until(lambda: doctor.inbox.cursor(thread) == 6, 20, "the catch-up")
        assert doctor.connections == connections  # caught up on the same socket
        assert doctor.resyncs >= 1
        await doctor.send(thread, to, "after the outage")
        await until(lambda: patient.inbox.cursor(thread) == 7, 10, "live delivery again")
        await verify(cast, ledger, devices.values(), services.mongo.uri, env["CARECHAT_MONGODB_DB"])


async def test_redis_killed_and_restarted_during_load(
    services: Services, redises: Redises, env: dict[str, str], servers: list[ServerProcess],
    tmp_path: Path,
) -> None:  # fmt: skip
    cast = await build_cast(servers[0].url, tmp_path)
    ledger = Ledger()
    bases = [s.url for s in servers]
    async with devices_of(cast, bases, ledger, seed=8, pinned=True) as devices:
        load = asyncio.create_task(
            run_load(cast, devices.values(), Workload(messages=80), seed=9, seconds=90)
        )
        await until(lambda: ledger.acked >= 100, 60, "100 acks before the outage")
        redises.first.kill()
        at_kill = ledger.acked
        await asyncio.sleep(1.5)
        during = ledger.acked - at_kill
        redises.restart()
        connections = {ref: d.connections for ref, d in devices.items()}
        await until(
            lambda: all(d.resyncs >= 1 for d in devices.values()), 20, "a resync on every socket"
        )
        await load
        assert during > 20  # sends went on being acked while Redis was down
        assert {ref: d.connections for ref, d in devices.items()} == connections

        # Live fan-out between the processes works again: ann-tablet (on the first
        # process) reaches doc1-phone (on the second) without any sync.
        thread = cast.pairs[("ann", "doc1")]
        sender = devices[cast.device("ann", "ann-tablet")]
        watcher = devices[cast.device("doc1", "doc1-phone")]
        assert (sender.base, watcher.base) == (bases[0], bases[1])
        top = max(seq for r in ledger.records if r.thread == thread for seq in r.acked_seqs)
        # Every socket resynced at once after the outage; on a loaded machine their
        # syncs take a while. The message says where the watcher stood if it never gets there.
        try:
            await until(
                lambda: watcher.inbox.cursor(thread) >= top and not watcher.syncing, 30, "quiet"
            )
        except AssertionError as exc:
            cursor, syncing = watcher.inbox.cursor(thread), watcher.syncing
            raise AssertionError(f"{exc}: seq {top}, the watcher at {cursor}, {syncing=}") from None
        record = await sender.send(thread, cast.threads[thread], "live again")
        (seq,) = record.acked_seqs
        await until(lambda: watcher.inbox.cursor(thread) >= seq, 5, "live delivery")
        assert watcher.connections == connections[watcher.ref]

        verdict = await verify(
            cast, ledger, devices.values(), services.mongo.uri, env["CARECHAT_MONGODB_DB"]
        )
    assert verdict.states[State.ACKED] > 400
