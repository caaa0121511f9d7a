"""A thread closed on one process stops sends on another at once, although each
process caches open threads for the send path (``ThreadGate.open_thread``)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import aiohttp

from tests.faults.device import ResilientDevice
from tests.faults.harness import build_cast, server_env
from tests.faults.ledger import Outcome
from tests.servers import server_pair
from tests.services import Services, database_dropped


async def test_closing_on_one_process_refuses_sends_on_the_other_within_a_second(
    services: Services, tmp_path: Path
) -> None:
    env = server_env(services.mongo.uri, services.redis.url)
    with database_dropped(env), server_pair(tmp_path, env) as (a, b):
        cast = await build_cast(a.url, tmp_path)
        thread = cast.pairs[("ann", "doc1")]
        phone = cast.device("ann", "ann-phone")
        ann = ResilientDevice(
            cast.identity(phone), [a.url], random.Random(1), keys=cast.keys[phone]
        )
        await ann.start()
        try:
            # Served (and cached) on A.
            sent = await ann.send(thread, cast.threads[thread], "before", persistent=False)
            assert sent.attempts[-1].outcome is Outcome.ACKED
            doctor = cast.actors["doc1"]
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"{b.url}/api/v1/threads/{thread}/close",
                    headers={"Authorization": f"Bearer {doctor.token}"},
                ) as response,
            ):
                assert response.status == 200
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 1.0
            while True:
                late = await ann.send(thread, cast.threads[thread], "after", persistent=False)
                outcome = late.attempts[-1]
                if outcome.outcome is Outcome.REFUSED or loop.time() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert (outcome.outcome, outcome.why) == (Outcome.REFUSED, "thread_closed")
        finally:
            await ann.close()
