"""Resources an app opens on start-up and closes on shutdown, as aiohttp cleanup contexts.

They sit here, with the composition root, because they fill app keys: storage and
handlers receive what these open as constructor arguments and never see the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from pymongo import WriteConcern
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

from chat_server.appkeys import DB, METRICS, SETTINGS, WRITE_DB
from chat_server.errors import StartupError
from chat_server.metrics import PoolGauge
from chat_server.storage.indexes import ensure_indexes
from chat_server.storage.mongo import WRITER_POOL_SIZE, check_replica_set, make_client


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
