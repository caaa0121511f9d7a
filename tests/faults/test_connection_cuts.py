"""Connections cut at random, many times, during a 1,000-message exchange between six
devices on two server processes: nothing acked is lost, duplicated or reordered."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from tests.faults.harness import Workload, build_cast, devices_of, run_load, server_env, verify
from tests.faults.ledger import Ledger, Outcome, State
from tests.servers import server_pair
from tests.services import Services, database_dropped


async def test_random_cuts_during_a_thousand_message_exchange(
    services: Services, tmp_path: Path
) -> None:
    env = server_env(services.mongo.uri, services.redis.url)
    with database_dropped(env), server_pair(tmp_path, env) as servers:
        bases = [s.url for s in servers]
        cast = await build_cast(bases[0], tmp_path)
        ledger = Ledger()
        async with devices_of(cast, bases, ledger, seed=20261122) as devices:
            stop = asyncio.Event()
            rng = random.Random(5)

            async def chaos() -> int:
                cuts = 0
                while not stop.is_set():
                    # About 14 cuts a second: the exchange now takes only a few
                    # seconds, and at 7 a second one run cut only 19 times.
                    await asyncio.sleep(rng.uniform(0.02, 0.12))
                    await rng.choice(list(devices.values())).cut()
                    cuts += 1
                return cuts

            cutter = asyncio.create_task(chaos())
            try:
                await run_load(cast, devices.values(), Workload(messages=170), seed=21, seconds=120)
            finally:
                stop.set()
                cuts = await cutter
            verdict = await verify(
                cast, ledger, devices.values(), services.mongo.uri, env["CARECHAT_MONGODB_DB"]
            )
    assert cuts > 20  # the connections really were cut, many times
    assert verdict.stored > 900
    # Resends happened and every kind of ending was seen.
    assert any(len(r.attempts) > 1 and r.state is State.ACKED for r in ledger.records), (
        "no send was ever retried"
    )
    assert any(a.outcome is Outcome.UNCERTAIN for r in ledger.records for a in r.attempts)
    assert verdict.states[State.FAILED] > 0
