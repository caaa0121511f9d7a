"""Health, readiness, metrics, and the problem+json answer to every bad request."""

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


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


async def test_metrics_in_prometheus_text_format(client: Client) -> None:
    await client.get("/healthz")
    await client.get("/no/such/path/12345")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    assert 'carechat_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    # Unknown paths are one label value, whatever the path.
    assert 'route="unmatched"' in text
    assert "12345" not in text
