"""``/api/v1/accounts/me/export`` and ``/api/v1/accounts/me/erasure`` (docs/gdpr.md)."""

from __future__ import annotations

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import PERSONAL_DATA
from chat_server.rest.auth import client_ip, principal
from chat_server.rest.bodies import read_json

ZIP = "application/zip"


class PasswordSchema(ma.Schema):
    # Asked again before the two actions (handlers/personal_data.py says why).
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=256))


async def export_data(request: web.Request) -> web.StreamResponse:
    who = await principal(request)
    body = await read_json(request, PasswordSchema())
    chunks = await request.app[PERSONAL_DATA].export(who, body["password"], client_ip(request))
    # Checked before the first byte: after it, a failure can only cut the stream.
    response = web.StreamResponse(
        headers={
            "Content-Type": ZIP,
            "Content-Disposition": 'attachment; filename="carechat-export.zip"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    async for chunk in chunks:
        if chunk:
            await response.write(chunk)
    await response.write_eof()
    return response


async def erasure_status(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response(await request.app[PERSONAL_DATA].erasure(who))


async def request_erasure(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, PasswordSchema())
    view = await request.app[PERSONAL_DATA].request_erasure(
        who, body["password"], client_ip(request)
    )
    return web.json_response(view, status=202)


async def cancel_erasure(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[PERSONAL_DATA].cancel_erasure(who, client_ip(request))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/accounts/me/export", export_data, name="export_data")
    r.add_get("/api/v1/accounts/me/erasure", erasure_status, name="erasure_status")
    r.add_post("/api/v1/accounts/me/erasure", request_erasure, name="request_erasure")
    r.add_delete("/api/v1/accounts/me/erasure", cancel_erasure, name="cancel_erasure")
