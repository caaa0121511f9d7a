"""Liveness, readiness and metrics: what a load balancer and Prometheus ask."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError

from chat_server.appkeys import BROKER, DB, METRICS

READY_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = {
        "mongodb": await _mongo_primary(request.app),
        "fanout": await _broker_ready(request.app),
    }
    ready = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


async def _mongo_primary(app: web.Application) -> str:
    try:
        hello = await asyncio.wait_for(app[DB].command("hello"), READY_TIMEOUT)
    except (TimeoutError, PyMongoError):
        return "unreachable"
    return "ok" if hello.get("isWritablePrimary") else "no primary"


async def _broker_ready(app: web.Application) -> str:
    broker = app[BROKER]
    try:
        ok = await asyncio.wait_for(broker.ready(), READY_TIMEOUT)
    except TimeoutError:
        ok = False
    return "ok" if ok else f"{broker.name} unreachable"


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/readyz", readyz, name="readyz")
    app.router.add_get("/metrics", metrics, name="metrics")
