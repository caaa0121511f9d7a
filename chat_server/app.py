"""The composition root: ``create_app`` builds every part of a CareChat server.

Resources are cleanup contexts, set up in order and torn down in reverse:
MongoDB (connect, check replica set, ensure indexes) → fan-out broker (Redis, or the
in-process one) → job scheduler. Sockets are closed with 1001 on shutdown, before the
resources they use go away. Nothing else in the code base reads the environment or
builds a client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from chat_server.appkeys import BROKER, CLOCK, HUB, METRICS, SETTINGS
from chat_server.clock import Clock, SystemClock
from chat_server.errors import StartupError
from chat_server.fanout import LocalBroker, RedisBroker
from chat_server.jobs import scheduler_ctx
from chat_server.metrics import Metrics
from chat_server.rest import health
from chat_server.rest.problems import problems_middleware
from chat_server.settings import Settings
from chat_server.storage.mongo import mongo_ctx
from chat_server.ws.endpoint import ROUTER, websocket_handler
from chat_server.ws.hub import Hub
from chat_server.ws.router import FrameRouter


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(
        middlewares=[problems_middleware], client_max_size=settings.http_max_body_bytes
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = metrics = Metrics()
    app[HUB] = Hub(metrics)
    app[ROUTER] = FrameRouter()

    app.cleanup_ctx.extend([mongo_ctx, broker_ctx, scheduler_ctx])
    app.on_shutdown.append(_close_sockets)

    health.add_routes(app)
    app.router.add_get("/ws", websocket_handler, name="ws")
    return app


async def broker_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, hub, metrics = app[SETTINGS], app[HUB], app[METRICS]
    if settings.redis_url is None:
        app[BROKER] = broker = LocalBroker(metrics)
        hub.bind_broker(broker)
        yield
        return
    client = aioredis.Redis.from_url(settings.redis_url.reveal(), health_check_interval=10)
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            raise StartupError(
                f"Redis unreachable at CARECHAT_REDIS_URL ({type(exc).__name__})"
            ) from None
        redis_broker = RedisBroker(
            client, settings.redis_prefix, metrics, hub.on_remote_event, hub.resync_all
        )
        app[BROKER] = redis_broker
        hub.bind_broker(redis_broker)
        await redis_broker.start()
        try:
            yield
        finally:
            await redis_broker.close()
    finally:
        await client.aclose()


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].close_all()
