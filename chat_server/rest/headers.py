"""Security headers on every HTTP answer, set in one place.

Every response, the WebSocket upgrade and the error answers included, says:

- ``Server: CareChat`` — aiohttp would announce its own and Python's versions;
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
- ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` — the API
  answers JSON and bytes, never a page to render or to frame;
- ``Cache-Control: no-store`` — everything is personal or dynamic, so no browser or
  proxy keeps a copy;
- ``Strict-Transport-Security`` when the public URL is ``https://`` (the
  ``public_url`` setting): only then is the server known to be reached over TLS.

A response that sets its own ``Content-Security-Policy`` or ``Cache-Control`` before
it is prepared keeps it: that is where a page meant to be embedded (a widget loaded
in a practice's own site) will name the ``frame-ancestors`` allowed to frame it.
The rest is forced. aiohttp calls :meth:`SecurityHeaders.on_response_prepare` for
every response the application prepares; the answers its HTTP parser gives before
the application runs get the same headers in ``rest/runner.py``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from chat_server.settings import Settings

SERVER: Final = "CareChat"
API_POLICY: Final = "default-src 'none'; frame-ancestors 'none'"
HSTS: Final = "max-age=31536000"


@dataclass(frozen=True, slots=True)
class SecurityHeaders:
    hsts: bool

    @classmethod
    def for_settings(cls, settings: Settings) -> SecurityHeaders:
        return cls(hsts=settings.public_url.startswith("https://"))

    def apply(self, headers: MutableMapping[str, str]) -> None:
        headers["Server"] = SERVER
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers.setdefault("Content-Security-Policy", API_POLICY)
        headers.setdefault("Cache-Control", "no-store")
        if self.hsts:
            headers["Strict-Transport-Security"] = HSTS

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        self.apply(response.headers)
