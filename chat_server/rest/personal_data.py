"""``/api/v1/accounts/me/export`` and ``/api/v1/accounts/me/erasure`` (docs/gdpr.md),
and the same actions under ``/api/v1/personal-data`` with the login's proof in the
body instead of a session, for an account that cannot log in (suspended)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import PERSONAL_DATA
from chat_server.handlers.personal_data import Credentials
from chat_server.rest.auth import client_ip, principal
from chat_server.rest.bodies import read_json

ZIP = "application/zip"


class PasswordSchema(ma.Schema):
    # Asked again before the two actions (handlers/personal_data.py says why).
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=256))


class CredentialsSchema(ma.Schema):
    # What a login asks (rest/accounts.py LoginSchema), for the session-less actions.
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=256))
    totp_code = ma.fields.String(load_default=None, validate=ma.validate.Length(max=10))


async def _credentials(request: web.Request) -> Credentials:
    body = await read_json(request, CredentialsSchema())
    return Credentials(body["email"], body["password"], body["totp_code"])


async def export_data(request: web.Request) -> web.StreamResponse:
    who = await principal(request)
    body = await read_json(request, PasswordSchema())
    chunks = await request.app[PERSONAL_DATA].export(who, body["password"], client_ip(request))
    return await _stream(request, chunks)


async def export_data_with_credentials(request: web.Request) -> web.StreamResponse:
    credentials = await _credentials(request)
    chunks = await request.app[PERSONAL_DATA].export_with(credentials, client_ip(request))
    return await _stream(request, chunks)


async def _stream(request: web.Request, chunks: AsyncIterator[bytes]) -> web.StreamResponse:
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


async def erasure_status_with_credentials(request: web.Request) -> web.Response:
    credentials = await _credentials(request)
    view = await request.app[PERSONAL_DATA].erasure_with(credentials, client_ip(request))
    return web.json_response(view)


async def request_erasure_with_credentials(request: web.Request) -> web.Response:
    credentials = await _credentials(request)
    view = await request.app[PERSONAL_DATA].request_erasure_with(credentials, client_ip(request))
    return web.json_response(view, status=202)


async def cancel_erasure_with_credentials(request: web.Request) -> web.Response:
    credentials = await _credentials(request)
    await request.app[PERSONAL_DATA].cancel_erasure_with(credentials, client_ip(request))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/accounts/me/export", export_data, name="export_data")
    r.add_get("/api/v1/accounts/me/erasure", erasure_status, name="erasure_status")
    r.add_post("/api/v1/accounts/me/erasure", request_erasure, name="request_erasure")
    r.add_delete("/api/v1/accounts/me/erasure", cancel_erasure, name="cancel_erasure")
    # No session: every one is a POST with the login's proof in its body.
    base = "/api/v1/personal-data"
    r.add_post(f"{base}/export", export_data_with_credentials, name="export_data_with_credentials")
    r.add_post(
        f"{base}/erasure/status",
        erasure_status_with_credentials,
        name="erasure_status_with_credentials",
    )
    r.add_post(
        f"{base}/erasure", request_erasure_with_credentials, name="request_erasure_with_credentials"
    )
    r.add_post(
        f"{base}/erasure/cancel",
        cancel_erasure_with_credentials,
        name="cancel_erasure_with_credentials",
    )
