"""A process cut off from Redis tells the others to resync once it is back.

Its publications failed while it was away, and the other processes may have resynced
their sockets before those failures: without the notice, their devices would miss
those messages until some later one. Real Redis; the cut is a TCP relay in front of
it, stopped and started by the test (the network, not our code, fails).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from chat_server.fanout import RedisBroker
from chat_server.metrics import Metrics
from tests.services import Services


class Relay:
    """Forwards TCP to Redis until ``cut``; ``cut`` also drops every open link."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._links):
            writer.close()
        await self._server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._links.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


class Resyncs:
    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    async def __call__(self) -> None:
        self.count += 1
        self.changed.set()


@pytest.fixture
async def relay(services: Services) -> AsyncIterator[Relay]:
    target = urlsplit(services.redis.url)
    assert target.hostname is not None
    assert target.port is not None
    relay = Relay(target.hostname, target.port)
    await relay.start()
    yield relay
    with contextlib.suppress(Exception):
        await relay.cut()


async def test_a_process_that_failed_to_publish_makes_the_others_resync(
    services: Services, relay: Relay
) -> None:
    prefix = f"t{uuid4().hex[:8]}:"
    direct = aioredis.Redis.from_url(services.redis.url)
    cut_off = aioredis.Redis(host="127.0.0.1", port=relay.port)
    steady_resyncs = Resyncs()
    steady = RedisBroker(direct, prefix, Metrics(), lambda _a, _e: None, steady_resyncs)
    flaky = RedisBroker(cut_off, prefix, Metrics(), lambda _a, _e: None, Resyncs())
    await steady.start()
    await flaky.start()
    try:
        await steady.subscribe("doctor")
        await asyncio.sleep(0.3)  # both listeners subscribed
        assert steady_resyncs.count == 0  # a process starting is no news

        await relay.cut()
        await flaky.publish(["doctor"], {"t": "msg", "thread": "t1", "seq": 7})  # fails
        await relay.start()  # same port: the flaky broker finds Redis again

        async with asyncio.timeout(10):
            await steady_resyncs.changed.wait()
        # The steady process never lost Redis; it resyncs because the other says so.
        assert steady_resyncs.count == 1
    finally:
        await flaky.close()
        await steady.close()
        await cut_off.aclose()
        await direct.aclose()
