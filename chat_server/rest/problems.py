"""The one place where errors become HTTP responses (RFC 9457 problem+json).

The middleware also stamps every request with an id (returned as ``X-Request-Id`` and
put in every log line of the request) and counts it in the metrics by route name, so
unknown paths cannot explode the label set.
"""

from __future__ import annotations

import json
import logging
import secrets
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from chat_server.appkeys import CLOCK, METRICS
from chat_server.errors import (
    ChatError,
    ErrorCode,
    MethodNotAllowed,
    NotFound,
    TooLarge,
    Unavailable,
)
from chat_server.logs import request_id_var

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
_PROBLEM_BASE = "https://carechat.invalid/problems/"


def problem_response(
    status: int,
    body: dict[str, object],
    request_id: str | None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    code = str(body.get("code", ErrorCode.INTERNAL))
    document = {"type": _PROBLEM_BASE + code, "status": status, **body}
    if request_id:
        document["request_id"] = request_id
    return web.Response(
        status=status,
        text=json.dumps(document, separators=(",", ":")),
        content_type=PROBLEM_TYPE,
        headers=headers,
    )


def error_response(exc: ChatError, request_id: str | None) -> web.Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return problem_response(exc.http_status, exc.to_dict(), request_id, headers)


def _from_http_exception(exc: web.HTTPException) -> ChatError:
    if exc.status == HTTPStatus.NOT_FOUND:
        return NotFound()
    if exc.status == HTTPStatus.METHOD_NOT_ALLOWED:
        return MethodNotAllowed()
    if exc.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return TooLarge("the body is over the size limit")
    generic = ChatError()
    generic.http_status = HTTPStatus(exc.status)  # type: ignore[misc]
    return generic


def _route_name(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info.http_exception is None else None
    return (resource.canonical if resource is not None else None) or "unmatched"


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id", "")
    if not (0 < len(request_id) <= 64 and request_id.replace("-", "").isalnum()):
        request_id = secrets.token_hex(8)
    token = request_id_var.set(request_id)
    metrics = request.app[METRICS]
    clock = request.app[CLOCK]
    started = clock.monotonic()
    route = _route_name(request)
    status = HTTPStatus.INTERNAL_SERVER_ERROR.value
    try:
        response = await _answer(request, handler, request_id, route)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
        return response
    finally:
        metrics.http_requests.labels(route, request.method, str(status)).inc()
        metrics.http_latency.labels(route).observe(clock.monotonic() - started)
        request_id_var.reset(token)


async def _answer(
    request: web.Request, handler: Handler, request_id: str, route: str
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ChatError as exc:
        if exc.log_detail:
            log.info(
                "request refused", extra={"fields": {"error": str(exc.code), "why": exc.log_detail}}
            )
        return error_response(exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_from_http_exception(exc), request_id)
        if "Allow" in exc.headers:  # a 405 must say which methods are (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (PyMongoError, RedisError) as exc:
        log.warning("dependency unavailable", extra={"fields": {"error": type(exc).__name__}})
        return error_response(Unavailable(retry_after=2.0), request_id)
    except Exception:
        log.exception("request failed", extra={"fields": {"route": route}})
        return error_response(ChatError(), request_id)
