"""Who is calling: the bearer session token, resolved on every request."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from chat_server.appkeys import SESSIONS
from chat_server.errors import Unauthenticated
from chat_server.principal import Principal


async def principal(request: web.Request) -> Principal:
    """The authenticated principal, or a 401 problem. Called by every protected route."""
    who = await request.app[SESSIONS].authenticate(bearer_token(request))
    return replace(who, ip=client_ip(request))


def bearer_token(request: web.Request) -> str:
    """The session token of ``Authorization: Bearer``, or a 401 problem."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send Authorization: Bearer <session token>")
    return token.strip()


def client_ip(request: web.Request) -> str:
    # Behind trusted proxies, the client they forwarded for: the middleware in
    # rest/proxies.py has rewritten request.remote already.
    return request.remote or "unknown"
