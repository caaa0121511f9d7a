"""Health, readiness, metrics, and the problem+json answer to every bad request."""

import asyncio
import base64
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app, create_metrics_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.rest.runner import CareChatRunner
from chat_server.secret import Secret
from chat_server.settings import Settings
from tests.actors import actor

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def test_healthz(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_checks_mongodb_and_redis(client: Client) -> None:
    response = await client.get("/readyz")
    assert response.status == 200
    body = await response.json()
    assert body == {"status": "ready", "checks": {"mongodb": "ok", "fanout": "ok"}}


async def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type="application/problem+json")
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"].endswith("/" + code)
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


async def test_an_api_route_refuses_query_parameters_it_does_not_document(
    client: Client, outbox: MemoryOutbox
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    auth = {"Authorization": f"Bearer {ann.token}"}
    # A mistyped parameter used to be ignored (the default limit silently applied).
    body = await _problem(
        await client.get("/api/v1/threads", params={"limt": "10"}, headers=auth),
        422,
        "validation_failed",
    )
    assert body["fields"] == {"query": ["unknown parameter; this route takes: none"]}
    body = await _problem(
        await client.get("/api/v1/panels", params={"mine": "1", "min": "1"}, headers=auth),
        422,
        "validation_failed",
    )
    assert body["fields"] == {"query": ["unknown parameter; this route takes: mine"]}
    assert "limt" not in json.dumps(body)
    await _problem(await client.get("/healthz?probe=1"), 422, "validation_failed")
    # What a route documents still works; pages are not API operations.
    assert (await client.get("/api/v1/panels", params={"mine": "1"}, headers=auth)).status == 200
    assert (await client.get("/api/v1/threads", headers=auth)).status == 200


async def test_unknown_route_is_a_404_problem(client: Client) -> None:
    await _problem(await client.get("/no/such/thing"), 404, "not_found")


async def test_wrong_method_is_a_405_problem(client: Client) -> None:
    await _problem(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_plain_http_on_the_websocket_route_is_a_400_problem(client: Client) -> None:
    await _problem(await client.get("/ws"), 422, "validation_failed")


async def test_request_id_is_echoed_when_sane(client: Client) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    response = await client.get("/healthz", headers={"X-Request-Id": "bad id;drop"})
    assert response.headers["X-Request-Id"] != "bad id;drop"


async def test_metrics_in_prometheus_text_format_on_their_own_listener(
    client: Client, aiohttp_client: Any
) -> None:
    await client.get("/healthz")
    await client.get("/no/such/path/12345")
    listener: Client = await aiohttp_client(create_metrics_app(client.app))
    response = await listener.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    assert 'carechat_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    # Unknown paths are one label value, whatever the path.
    assert 'route="unmatched"' in text
    assert "12345" not in text


async def test_mongodb_connections_in_use_return_to_zero(
    client: Client, aiohttp_client: Any
) -> None:
    # Concurrent readiness checks each take a pooled connection, then give it back:
    # open connections stay for a while, none stays in use (what the soak checks).
    await asyncio.gather(*(client.get("/readyz") for _ in range(20)))
    listener: Client = await aiohttp_client(create_metrics_app(client.app))
    # The app's own background work (the durable-job poller, the sweepers) may hold a
    # connection at the instant of one scrape, as the soak sees; what must hold is that
    # the count comes back to zero, so scrape until it does, for at most ten seconds.
    in_use = []
    for _ in range(100):
        text = await (await listener.get("/metrics")).text()
        gauges = dict(
            line.split(" ", 1) for line in text.splitlines() if line.startswith("carechat_mongodb_")
        )
        assert float(gauges["carechat_mongodb_connections"]) >= 1
        in_use.append(float(gauges["carechat_mongodb_connections_in_use"]))
        if in_use[-1] == 0:
            break
        await asyncio.sleep(0.1)
    assert in_use[-1] == 0, in_use


async def test_the_public_port_has_no_metrics(client: Client) -> None:
    # The same answer as any unknown path: nothing says a listener exists elsewhere.
    await _problem(await client.get("/metrics"), 404, "not_found")


async def test_a_metrics_token_is_required_when_set(
    settings: Settings,
    db: Db,
    clock: ManualClock,
    outbox: MemoryOutbox,
    aiohttp_client: Any,
) -> None:
    token = "scrape-token-0123456789abcdef"
    app = create_app(
        replace(settings, metrics_token=Secret(token)), clock=clock, mailer=outbox, sms=outbox
    )
    listener: Client = await aiohttp_client(create_metrics_app(app))
    assert (await listener.get("/metrics")).status == 401
    wrong = await listener.get("/metrics", headers={"Authorization": "Bearer " + "x" * 28})
    assert wrong.status == 401
    assert token not in await wrong.text()
    right = await listener.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert right.status == 200
    assert "carechat_ws_connections" in await right.text()


SECURITY_HEADERS = {
    "Server": "CareChat",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _assert_security_headers(headers: Mapping[str, str], *, hsts: bool = False) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, name
    assert headers.get("Strict-Transport-Security") == ("max-age=31536000" if hsts else None)


async def _raw(host: str, port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of what the server answers to these exact bytes."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if line)
        length = int(headers.get("Content-Length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), 5)
        return int(lines[0].split(" ")[1]), headers, body
    finally:
        writer.close()


def _upgrade_request() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    ).encode()


async def test_every_answer_carries_the_security_headers(client: Client) -> None:
    answers = [
        await client.get("/healthz"),
        await client.get("/api/v1/openapi.json"),
        await client.get("/no/such/thing"),
        await client.delete("/healthz"),
        await client.post("/api/v1/sessions", data=b"{", headers={"Content-Type": "text/plain"}),
        await client.get("/api/v1/accounts/me"),
    ]
    for response in answers:
        _assert_security_headers(response.headers)
    # The WebSocket upgrade too (aiohttp would name itself and Python in Server).
    assert client.server.host is not None
    assert client.server.port is not None
    status, headers, _ = await _raw(client.server.host, client.server.port, _upgrade_request())
    assert status == 101
    _assert_security_headers(headers)


async def test_hsts_when_the_public_url_is_https(
    aiohttp_client: Any, settings: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    https = replace(settings, public_url="https://chat.example.org")
    client = await aiohttp_client(create_app(https, clock=clock, mailer=outbox, sms=outbox))
    _assert_security_headers((await client.get("/healthz")).headers, hsts=True)
    _assert_security_headers((await client.get("/no/such/thing")).headers, hsts=True)


class _ProductionServer(TestServer):
    """A test server on the runner ``carechat serve`` uses."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return CareChatRunner(self.app, **kwargs)


async def test_an_over_long_request_line_is_a_problem_without_echo(
    settings: Settings,
    db: Db,
    clock: ManualClock,
    outbox: MemoryOutbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    marker = "secret-token-in-the-url-"
    line = f"GET /api/v1/threads?{marker}{'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    async with _ProductionServer(
        create_app(settings, clock=clock, mailer=outbox, sms=outbox)
    ) as server:
        assert server.host is not None
        assert server.port is not None
        with caplog.at_level(logging.INFO):
            status, headers, body = await _raw(server.host, server.port, line)
            # The same server still answers well-formed requests, and its headers.
            ok, ok_headers, _ = await _raw(
                server.host, server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            )
    assert status == 400
    assert headers["Content-Type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["code"] == "malformed_http"
    assert problem["status"] == 400
    assert marker.encode() not in body
    _assert_security_headers(headers)
    assert ok == 200
    _assert_security_headers(ok_headers)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(r.getMessage() == "malformed HTTP request refused" for r in caplog.records)
    assert marker not in caplog.text
