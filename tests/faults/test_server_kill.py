"""A server process killed with SIGKILL in the middle of the load loses nothing: its
clients reconnect to the other process, resend what was not acked and resume."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from e2e_crypto.envelope import open_message
from e2e_crypto.wire import from_base64url
from tests.faults.harness import (
    Workload,
    build_cast,
    devices_of,
    run_load,
    server_env,
    until,
    verify,
)
from tests.faults.ledger import Ledger, Outcome, State
from tests.servers import server_pair
from tests.services import Services, database_dropped


async def test_clients_of_a_killed_process_resume_on_the_other(
    services: Services, tmp_path: Path
) -> None:
    env = server_env(services.mongo.uri, services.redis.url)
    with database_dropped(env), server_pair(tmp_path, env) as (a, b):
        cast = await build_cast(a.url, tmp_path)
        ledger = Ledger()
        async with devices_of(cast, [a.url, b.url], ledger, seed=11) as devices:
            on_a = [d for d in devices.values() if d.base == a.url]
            assert 0 < len(on_a) < len(devices)  # both processes serve someone
            load = asyncio.create_task(
                run_load(cast, devices.values(), Workload(messages=80), seed=12, seconds=90)
            )
            await until(lambda: ledger.acked >= 120, 60, "120 acks before the kill")
            a.kill()  # SIGKILL: no goodbye, no drain, sends in flight
            acked_at_kill = ledger.acked
            await load
            assert ledger.acked > acked_at_kill + 100  # the load went on, on B
            for device in on_a:
                assert device.base == b.url, device.ref
                assert device.connections >= 2, device.ref
            # Sends were in flight on A when it died; their resends were resolved.
            broken = [
                r for r in ledger.records
                if r.sender in {d.ref for d in on_a}
                and any(x.outcome is Outcome.UNCERTAIN for x in r.attempts)
            ]  # fmt: skip
            assert broken
            verdict = await verify(
                cast, ledger, devices.values(), services.mongo.uri, env["CARECHAT_MONGODB_DB"]
            )
        assert verdict.states[State.ACKED] > 300
        assert verdict.states[State.FAILED] > 0
        # What was replayed is the real ciphertext: a recipient opens the first message.
        thread, to = next(iter(cast.threads.items()))
        doc = cast.actors["doc1"]
        opener = cast.keys[(doc.account_id, "doc1-pc")]
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{b.url}/api/v1/threads/{thread}/messages?limit=1", headers=doc.auth
            ) as response,
        ):
            first = (await response.json())["messages"][0]
        sender_ref = (first["sender"]["account"], first["sender"]["device"])
        sender = next(d for d in to if (d.account_id, d.device_id) == sender_ref)
        opened = open_message(
            from_base64url(first["envelope"]), opener=opener, sender=sender,
            thread_id=thread, client_msg_id=first["client_msg_id"],
        )  # fmt: skip
        assert opened.body.decode().startswith(f"{sender.device_id} ")
