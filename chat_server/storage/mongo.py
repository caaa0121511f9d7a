"""The MongoDB client as an aiohttp cleanup context: connect, check, index, close."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web
from pymongo import AsyncMongoClient, WriteConcern, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

from chat_server.appkeys import DB, METRICS, SETTINGS, WRITE_DB
from chat_server.errors import StartupError
from chat_server.metrics import PoolGauge
from chat_server.storage.indexes import ensure_indexes

log = logging.getLogger(__name__)

Database = AsyncDatabase[dict[str, Any]]


def make_client(
    uri: str,
    *,
    timeout_ms: int = 10_000,
    pool_size: int = 100,
    pool_idle_seconds: float | None = None,
    listeners: Sequence[monitoring._EventListener] = (),
) -> AsyncMongoClient[dict[str, Any]]:
    # Majority writes and retryable writes: an acknowledged message survives the loss
    # of the primary. tz_aware so no naive datetime ever leaves the driver.
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        w="majority",
        retryWrites=True,
        retryReads=True,
        serverSelectionTimeoutMS=timeout_ms,
        maxPoolSize=pool_size,
        maxIdleTimeMS=None if pool_idle_seconds is None else int(pool_idle_seconds * 1000),
        appname="carechat",
        event_listeners=list(listeners),
    )


async def check_replica_set(client: AsyncMongoClient[dict[str, Any]]) -> None:
    hello = await client.admin.command("hello")
    if not hello.get("setName"):
        raise StartupError(
            "MongoDB at CARECHAT_MONGODB_URI is not a replica set member "
            "(CareChat needs majority writes and transactions): start it with --replSet"
        )


# The group-committed writers (messages, delivery cursors) hold at most one or two
# connections at a time. A client of their own means an ack never queues behind a
# burst of reads waiting for a pooled connection.
WRITER_POOL_SIZE = 4


async def mongo_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.mongodb_uri is None:
        raise StartupError(
            "no MongoDB configured: set CARECHAT_MONGODB_URI or run `carechat serve`"
        )
    gauge = PoolGauge(app[METRICS])
    try:
        client, writer = (
            make_client(
                settings.mongodb_uri.reveal(),
                pool_size=size,
                pool_idle_seconds=settings.mongodb_pool_idle_seconds,
                listeners=[gauge],
            )
            for size in (settings.mongodb_pool_size, WRITER_POOL_SIZE)
        )
    except ConfigurationError as exc:
        raise StartupError(f"invalid setting CARECHAT_MONGODB_URI: {exc}") from None
    majority = WriteConcern(w="majority")
    try:
        try:
            await client.aconnect()
            await writer.aconnect()
            await check_replica_set(client)
            db = client.get_database(settings.mongodb_db, write_concern=majority)
            await ensure_indexes(db)
        except OperationFailure as exc:
            raise StartupError(
                f"MongoDB refused start-up commands: {exc.details or exc.code}"
            ) from None
        except PyMongoError as exc:
            raise StartupError(
                f"MongoDB unreachable at CARECHAT_MONGODB_URI ({type(exc).__name__})"
            ) from None
        app[DB] = db
        app[WRITE_DB] = writer.get_database(settings.mongodb_db, write_concern=majority)
        yield
    finally:
        await client.close()
        await writer.close()
