"""Real services for the whole test session: a MongoDB replica set and a Redis server.

Both are started once on free loopback ports and stopped at the end. A service that
cannot start is a test *error*, never a skip: CI must not go green without them.
Each test gets its own database (built by the production ``ensure_indexes``) and its
own Redis key prefix, so tests never see each other's data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pytest_aiohttp import AiohttpClient, AiohttpServer

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.embedded.redis_server import LocalRedis
from chat_server.mail import MemoryOutbox
from chat_server.secret import Secret
from chat_server.settings import Settings
from chat_server.storage.indexes import ensure_indexes
from chat_server.storage.mongo import make_client
from tests.services import Services


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    # Without access control: a login for each short-lived client would slow every test.
    mongo = EmbeddedMongo(tmp_path_factory.mktemp("mongodb"), auth=False)
    redis = LocalRedis()
    mongo.start()
    try:
        redis.start()
        try:
            yield Services(mongo=mongo, redis=redis)
        finally:
            redis.stop()
    finally:
        mongo.stop()


@pytest.fixture(scope="session")
async def mongo_client(services: Services) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client = make_client(services.mongo.uri)
    yield client
    await client.close()


@pytest.fixture
async def db_name(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[str]:
    """This test's database (``db``, and the ``settings`` of its apps), dropped after
    it: each WiredTiger collection and index is a file of the session's mongod, and
    databases left behind by a whole run ran it out of file descriptors (errno 24)."""
    name = f"test_{uuid4().hex[:16]}"
    yield name
    await mongo_client.drop_database(name)


# pytest-aiohttp's fixtures, set up after ``db_name`` so torn down before it: every app
# they started has shut down (its last writes, a cursor flush, done) when the database
# is dropped, and cannot create it again.
@pytest.fixture
def aiohttp_client(db_name: str, aiohttp_client: AiohttpClient) -> AiohttpClient:
    return aiohttp_client


@pytest.fixture
def aiohttp_server(db_name: str, aiohttp_server: AiohttpServer) -> AiohttpServer:
    return aiohttp_server


@pytest.fixture
async def db(
    mongo_client: AsyncMongoClient[dict[str, Any]], db_name: str
) -> AsyncDatabase[dict[str, Any]]:
    database = mongo_client[db_name]
    await ensure_indexes(database)
    return database  # dropped by ``db_name``


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def outbox() -> MemoryOutbox:
    """What the server would have sent by e-mail or SMS (the system's outer edge)."""
    return MemoryOutbox()


@pytest.fixture
def settings(services: Services, db_name: str, tmp_path: Path) -> Settings:
    return Settings(
        port=8080,
        mongodb_uri=Secret(services.mongo.uri),
        mongodb_db=db_name,
        redis_url=Secret(services.redis.url),
        redis_prefix=f"t{uuid4().hex[:12]}:",
        data_dir=tmp_path,
        ws_heartbeat_seconds=5.0,
        ws_auth_timeout_seconds=1.0,
        server_secret=Secret("x" * 40),
    )


@pytest.fixture
async def client(
    aiohttp_client: Any,
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    clock: ManualClock,
    outbox: MemoryOutbox,
) -> TestClient[web.Request, web.Application]:
    app = create_app(settings, clock=clock, mailer=outbox, sms=outbox)
    test_client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
    return test_client
