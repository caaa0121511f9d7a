"""The aiojobs scheduler that runs background work in this process.

aiojobs keeps nothing across a crash: durable work keeps its progress in MongoDB (a
``jobs`` document with a lease and a cursor) and is only *executed* here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiojobs
from aiohttp import web

from chat_server.appkeys import SCHEDULER, SETTINGS


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    scheduler = aiojobs.Scheduler(
        limit=100, pending_limit=10_000, close_timeout=app[SETTINGS].shutdown_grace_seconds
    )
    app[SCHEDULER] = scheduler
    try:
        yield
    finally:
        await scheduler.close()
