"""Moderation over HTTP: moderators' actions on accounts, and each person's view of
what was done to their own account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import SANCTIONS
from chat_server.rest.auth import principal
from chat_server.rest.bodies import read_json
from chat_server.schemas import PlainText
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
