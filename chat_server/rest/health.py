"""Liveness, readiness and metrics: what a load balancer and Prometheus ask.

``/healthz`` and ``/readyz`` are routes of the public application. ``/metrics`` is
not: it is served by :func:`metrics_app`, a second small application the CLI runs on
its own listener (``metrics_listen``, loopback by default), optionally behind a
bearer token (``metrics_token``). Route names and counts say how the service is used,
so the public port answers ``/metrics`` with the same 404 as any unknown path.
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError

from chat_server.appkeys import BROKER, DB, METRICS, METRICS_TOKEN
from chat_server.metrics import Metrics
from chat_server.secret import Secret

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


async def scrape(request: web.Request) -> web.Response:
    token = request.app.get(METRICS_TOKEN)
    if token is not None and not _bearer_matches(request, token):
        return web.Response(
            status=401,
            text="metrics need the bearer token\n",
            headers={"WWW-Authenticate": "Bearer"},
        )
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def _bearer_matches(request: web.Request, token: Secret) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.reveal().encode()
    )


def metrics_app(metrics: Metrics, token: Secret | None) -> web.Application:
    """The metrics listener's application: ``GET /metrics`` and nothing else."""
    app = web.Application()
    app[METRICS] = metrics
    if token is not None:
        app[METRICS_TOKEN] = token
    app.router.add_get("/metrics", scrape, name="metrics")
    return app


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/readyz", readyz, name="readyz")
