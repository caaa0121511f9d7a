"""The SDK against the real app on a real loopback port (MongoDB, Redis per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.sdk.network import Blackout, LyingServer
from tests.sdk.people import People


@pytest.fixture
async def server(
    aiohttp_server: Any,
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    clock: ManualClock,
    outbox: MemoryOutbox,
) -> TestServer:
    app: web.Application = create_app(settings, clock=clock, mailer=outbox, sms=outbox)
    test_server: TestServer = await aiohttp_server(app)
    return test_server


@pytest.fixture
def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def people(base_url: str, outbox: MemoryOutbox) -> AsyncIterator[People]:
    crowd = People(base_url, outbox)
    yield crowd
    await crowd.close()


@pytest.fixture
async def blackout(server: TestServer) -> AsyncIterator[Blackout]:
    relay = Blackout(server.port or 0)
    await relay.start()
    yield relay
    await relay.stop()


@pytest.fixture
async def liar(base_url: str) -> AsyncIterator[LyingServer]:
    proxy = LyingServer(base_url)
    await proxy.start()
    yield proxy
    await proxy.stop()
