"""The HTTP server around the application: aiohttp's, with our answer to bad HTTP.

aiohttp's parser refuses some requests before any middleware runs: a request line or
header over its size limit, bytes that are not HTTP. Its own answer is ``text/plain``
echoing the offending bytes back to the client, logged as an ERROR with those bytes
(anything a client sends becomes an operator alert, and whatever was in the line,
a token in a query string, lands in the log). Here it is a problem+json like every
other error (``malformed_http``, no echo), with the security headers
(``rest/headers.py``), logged at INFO without the bytes.

aiohttp builds one :class:`web.RequestHandler` per connection from its ``Server``;
:class:`CareChatRunner` hands it a ``Server`` whose handlers answer errors this way.
The CLI serves through it, and so does the test that checks it.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest

from chat_server.appkeys import SETTINGS
from chat_server.errors import ChatError, MalformedHttp
from chat_server.rest.headers import SecurityHeaders
from chat_server.rest.problems import error_response

log = logging.getLogger(__name__)


class _Protocol(web.RequestHandler):
    def __init__(self, manager: web.Server, *, security: SecurityHeaders, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._security = security

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # ``message`` (aiohttp's text, which quotes the request line) is never used.
        if status >= 500:
            self.log_exception("request failed before the application", exc_info=exc)
            error = ChatError()
        else:
            log.info(
                "malformed HTTP request refused",
                extra={"fields": {"status": status, "error": type(exc).__name__}},
            )
            error = MalformedHttp()
        if request.writer.output_size > 0:
            # Part of a response went out already: only closing is left (as aiohttp).
            raise ConnectionError("response already started; cannot send an error")
        response = error_response(error, None)
        self._security.apply(response.headers)
        response.force_close()
        return response


class _Server(web.Server):
    def __init__(self, *args: Any, security: SecurityHeaders, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._security = security

    def __call__(self) -> web.RequestHandler:
        # What web.Server.__call__ does, with our handler class.
        return _Protocol(self, security=self._security, loop=self._loop, **self._kwargs)


class CareChatRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer malformed HTTP with problem+json."""

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        # The same server aiohttp built for the application (its handler, request
        # factory and options), with our per-connection handler class.
        return _Server(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            security=SecurityHeaders.for_settings(self.app[SETTINGS]),
            **plain._kwargs,
        )
