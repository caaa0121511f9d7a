"""A client that stops reading (SIGSTOP on its process) while others keep writing to
it: the server drops it when its bounded send queue overflows (close 4008) instead of
buffering without bound, everyone else carries on at full speed, and once the client
runs again (SIGCONT) it reconnects and syncs everything it missed, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest

from tests.faults.harness import (
    Cast,
    Workload,
    build_cast,
    devices_of,
    run_load,
    server_env,
    stored_rows,
    until,
    verify,
)
from tests.faults.ledger import Inbox, Ledger, State
from tests.faults.slow_reader import ReaderProcess
from tests.servers import ServerProcess
from tests.services import Services, database_dropped

QUEUE_FRAMES = 32
# ~40 KB frames: the kernel's socket buffers (megabytes on loopback) fill within a
# hundred messages, then the server's queue of 32 frames overflows.
BULKY = Workload(messages=80, body_bytes=30_000)


@pytest.fixture
def env(services: Services) -> dict[str, str]:
    return server_env(
        services.mongo.uri,
        services.redis.url,
        CARECHAT_WS_SEND_QUEUE_FRAMES=str(QUEUE_FRAMES),
        # Long enough that only the send queue can be what drops the frozen client.
        CARECHAT_WS_HEARTBEAT_SECONDS="60",
    )


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with database_dropped(env), ServerProcess(tmp_path, env) as started:
        yield started


async def test_a_frozen_client_is_dropped_then_catches_up(
    services: Services, env: dict[str, str], server: ServerProcess, tmp_path: Path
) -> None:
    cast = await build_cast(server.url, tmp_path)
    ledger = Ledger()
    slow = cast.device("doc1", "doc1-phone")
    with ReaderProcess(cast.identity(slow), [server.url], tmp_path / "reader.jsonl") as reader:
        await until(lambda: any("welcome" in s for s in reader.statuses()), 30, "the reader")
        async with devices_of(cast, [server.url], ledger, seed=4, skip=[slow]) as devices:
            load = asyncio.create_task(run_load(cast, devices.values(), BULKY, seed=5, seconds=90))
            await until(lambda: ledger.acked >= 40, 30, "40 acks before the freeze")
            reader.pause()
            acked_at_pause = ledger.acked
            await until(
                lambda: _at_least(server.metric("carechat_ws_slow_disconnects_total"), 1),
                30,
                "the server to drop the frozen client",
            )
            await asyncio.sleep(1.0)  # the load goes on against a dropped, frozen peer
            acked_while_frozen = ledger.acked - acked_at_pause
            reader.resume()
            await load
            verdict = await verify(
                cast, ledger, devices.values(), services.mongo.uri, env["CARECHAT_MONGODB_DB"],
                extra_inboxes=[await _complete_inbox(reader, env, services, cast)],
            )  # fmt: skip
            # The frozen connection is gone: one socket per device, the reader's new one.
            await until(
                lambda: _exactly(server.metric("carechat_ws_connections"), len(devices) + 1),
                10,
                "the dropped socket to be released",
            )
    statuses = reader.statuses()
    assert {"closed": 4008} in statuses  # told why, once it could read again
    assert max(s.get("welcome", 0) for s in statuses) >= 2  # and it came back
    assert acked_while_frozen > 40  # the others were not held up by the frozen reader
    assert verdict.states[State.ACKED] > 350


async def _complete_inbox(
    reader: ReaderProcess, env: dict[str, str], services: Services, cast: Cast
) -> Inbox:
    """What the reader got, once it holds every stored message of its threads."""
    rows = await stored_rows(services.mongo.uri, env["CARECHAT_MONGODB_DB"])
    mine = {t for t, devices in cast.recipients.items() if reader.identity.ref in devices}
    tops = {t: max((r.seq for r in rows if r.thread == t), default=0) for t in mine}

    def complete() -> bool:
        inbox = reader.inbox()
        return all(inbox.cursor(t) >= top for t, top in tops.items())

    await until(complete, 30, "the reader to catch up")
    return reader.inbox()


async def _at_least(value: Awaitable[float], bound: float) -> bool:
    return await value >= bound


async def _exactly(value: Awaitable[float], expected: float) -> bool:
    return await value == expected
