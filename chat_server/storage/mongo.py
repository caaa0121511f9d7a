"""MongoDB clients: how they are configured and what a server needs of the deployment.

The cleanup context that opens them for an app lives in ``chat_server/resources.py``:
storage knows nothing of aiohttp or the app keys.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.errors import StartupError

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
