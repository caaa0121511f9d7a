"""Access log lines without query strings (tickets and invitation codes live there)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from chat_server.logs import request_id_var


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        # The request's context is gone by now; the middleware echoed the id back.
        request_id = response.headers.get("X-Request-Id") or request_id_var.get()
        self.logger.info(
            "%s %s %s",
            request.method,
            request.rel_url.path,
            response.status,
            extra={"fields": {"ms": round(time * 1000, 2), "request_id": request_id}},
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
