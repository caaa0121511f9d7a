"""The real services one test session runs against, and the databases tests make in them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient

from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.embedded.redis_server import LocalRedis


@dataclass(frozen=True, slots=True)
class Services:
    mongo: EmbeddedMongo
    redis: LocalRedis


@contextlib.contextmanager
def database_dropped(env: Mapping[str, str]) -> Iterator[None]:
    """Drops the database that server processes configured by ``env`` use when the
    block ends. Enter it before starting them (they have stopped when it drops): each
    WiredTiger collection and index is a file of the session's mongod, and databases
    left behind by a whole run ran it out of file descriptors (errno 24)."""
    try:
        yield
    finally:
        with MongoClient[dict[str, Any]](env["CARECHAT_MONGODB_URI"]) as client:
            client.drop_database(env["CARECHAT_MONGODB_DB"])
