"""Moderation over HTTP: consents, blocks between accounts, abuse reports, moderators'
actions on accounts, and each person's view of what was done to their own account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import BLOCKS, CONSENTS, REPORTS, SANCTIONS
from chat_server.rest.auth import principal
from chat_server.rest.bodies import read_json
from chat_server.schemas import PlainText, id_field
from moderation.consents import Purpose
from moderation.reports import MAX_REVEALED_BYTES, Category
from moderation.sanctions import MAX_NOTE_CHARS, ModeratorAction, Reason

_ACCOUNT = "{account_id:[A-Za-z0-9_-]{1,64}}"
Handler = Callable[[web.Request], Awaitable[web.Response]]


class SanctionSchema(ma.Schema):
    reason = ma.fields.Enum(Reason, by_value=True, required=True)
    # Shown to the person; never in the audit log, never in Redis.
    note = ma.fields.String(
        load_default="", validate=[ma.validate.Length(max=MAX_NOTE_CHARS), PlainText()]
    )

    @ma.validates_schema
    def _other_needs_a_note(self, data: dict[str, Any], **_: Any) -> None:
        if data["reason"] is Reason.OTHER and not data["note"].strip():
            raise ma.ValidationError("the reason 'other' needs a note", "note")


def _sanction(action: ModeratorAction) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = await principal(request)
        body = await read_json(request, SanctionSchema())
        await request.app[SANCTIONS].act(
            who, request.match_info["account_id"], action, body["reason"], body["note"]
        )
        return web.Response(status=204)

    return handler


class ReportSchema(ma.Schema):
    """A message (``thread`` and ``seq``) or a practice mailing (``campaign``)."""

    thread = id_field()
    seq = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=2**53))
    campaign = id_field()
    # What the reporter's client decrypted: the payload and its franking key, base64url.
    body = ma.fields.String(
        required=True, validate=ma.validate.Length(max=(MAX_REVEALED_BYTES * 4) // 3 + 4)
    )
    franking_key = ma.fields.String(required=True, validate=ma.validate.Length(max=64))
    category = ma.fields.Enum(Category, by_value=True, required=True)

    @ma.validates_schema
    def _one_target(self, data: dict[str, Any], **kwargs: Any) -> None:
        message = "thread" in data or "seq" in data
        if "campaign" in data and message:
            raise ma.ValidationError("either a campaign or a thread and seq", "campaign")
        if "campaign" not in data:
            for name in ("thread", "seq"):
                if name not in data:
                    raise ma.ValidationError("Missing data for required field.", name)


async def file_report(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, ReportSchema())
    revealed = {
        "body_b64": body["body"],
        "franking_key_b64": body["franking_key"],
        "category": body["category"],
    }
    reports = request.app[REPORTS]
    if "campaign" in body:
        filed = await reports.report_mailing(who, body["campaign"], **revealed)
    else:
        filed = await reports.report(who, body["thread"], body["seq"], **revealed)
    return web.json_response(filed, status=201)


async def report_queue(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response({"reports": await request.app[REPORTS].queue(who)})


class ConsentSchema(ma.Schema):
    purpose = ma.fields.Enum(Purpose, by_value=True, required=True)
    # The practice, for a purpose consented per practice (prevention mailings).
    scope = ma.fields.String(
        load_default="", validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{0,64}\Z", error="an id")
    )


class GrantSchema(ConsentSchema):
    # The version of the text the patient was shown (GET /consents: text_versions).
    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))


async def my_consents(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response(await request.app[CONSENTS].mine(who))


async def grant_consent(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, GrantSchema())
    await request.app[CONSENTS].grant(who, body["purpose"], body["version"], body["scope"])
    return web.Response(status=204)


async def revoke_consent(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, ConsentSchema())
    await request.app[CONSENTS].revoke(who, body["purpose"], body["scope"])
    return web.Response(status=204)


async def block(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[BLOCKS].block(who, request.match_info["account_id"])
    return web.Response(status=204)


async def unblock(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[BLOCKS].unblock(who, request.match_info["account_id"])
    return web.Response(status=204)


async def my_blocks(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response({"blocks": await request.app[BLOCKS].mine(who)})


async def my_sanctions(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response({"sanctions": await request.app[SANCTIONS].mine(who)})


def add_routes(app: web.Application) -> None:
    r = app.router
    for action in ModeratorAction:
        r.add_post(
            f"/api/v1/admin/accounts/{_ACCOUNT}/{action}",
            _sanction(action),
            name=f"admin_{action}",
        )
    r.add_get("/api/v1/accounts/me/sanctions", my_sanctions, name="my_sanctions")
    r.add_post("/api/v1/reports", file_report, name="file_report")
    r.add_get("/api/v1/blocks", my_blocks, name="my_blocks")
    r.add_get("/api/v1/consents", my_consents, name="my_consents")
    r.add_post("/api/v1/consents", grant_consent, name="grant_consent")
    r.add_post("/api/v1/consents/revoke", revoke_consent, name="revoke_consent")
    r.add_put(f"/api/v1/blocks/{_ACCOUNT}", block, name="block")
    r.add_delete(f"/api/v1/blocks/{_ACCOUNT}", unblock, name="unblock")
    r.add_get("/api/v1/admin/reports", report_queue, name="report_queue")
