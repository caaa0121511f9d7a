"""An API route takes only the query parameters its operation documents.

Unknown ones were ignored, so a mistyped ``?limt=10`` silently meant the default: it is
now a 422 naming what the route takes (never echoing what was sent). Routes outside
the API document (pages, the Stripe webhook, the socket) are left alone.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from chat_server.errors import BadRequest
from chat_server.rest.openapi import OPERATIONS

_TAKEN: Final[dict[str, frozenset[str]]] = {
    name: frozenset(q.name for q in operation.query) for name, operation in OPERATIONS.items()
}


@web.middleware
async def query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.query:
        taken = _TAKEN.get(request.match_info.route.name or "")
        if taken is not None and not taken.issuperset(request.query.keys()):
            names = ", ".join(sorted(taken)) or "none"
            raise BadRequest(fields={"query": [f"unknown parameter; this route takes: {names}"]})
    return await handler(request)
