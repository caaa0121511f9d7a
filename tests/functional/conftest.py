"""Fixtures for running the real ``carechat`` command against a private data directory."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from pymongo import MongoClient

from chat_server.embedded.processes import free_port
from tests.functional.command import Server, carechat_env
from tests.services import Services

StartServer = Callable[[dict[str, str]], Server]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Not created: the command must create what it needs, and only that."""
    return tmp_path / "data"


@pytest.fixture
def env(data_dir: Path) -> dict[str, str]:
    """The embedded default: no MongoDB URI, no Redis URL."""
    return carechat_env(data_dir, free_port())


@pytest.fixture
def external_db(services: Services) -> Iterator[str]:
    """A fresh database name in the session MongoDB, dropped afterwards."""
    name = f"functional_{uuid4().hex[:12]}"
    yield name
    client: MongoClient[dict[str, object]] = MongoClient(services.mongo.uri)
    with client:
        client.drop_database(name)


@pytest.fixture
def external_env(env: dict[str, str], services: Services, external_db: str) -> dict[str, str]:
    """Settings pointing at the session's MongoDB replica set and Redis."""
    return {
        **env,
        "CARECHAT_MONGODB_URI": services.mongo.uri,
        "CARECHAT_MONGODB_DB": external_db,
        "CARECHAT_REDIS_URL": services.redis.url,
        "CARECHAT_REDIS_PREFIX": f"f{uuid4().hex[:12]}:",
        # Processes that share Redis must share this key too.
        "CARECHAT_SERVER_SECRET": secrets.token_urlsafe(32),
    }


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Starts ``carechat serve``; every server (and its children) is killed at teardown."""
    started: list[Server] = []

    def start(environment: dict[str, str]) -> Server:
        server = Server(environment, tmp_path / f"serve-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
