"""``/api/v1/groups``: create a group, post and fetch its signed epoch commits."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import GROUPS
from chat_server.rest.auth import principal
from chat_server.rest.bodies import read_json
from chat_server.storage.groups import StoredEpoch
from e2e_crypto.groups_public import MAX_COMMIT_BYTES
from e2e_crypto.wire import to_base64url

ID = "{%s:[A-Za-z0-9_-]{1,64}}"
EPOCH = "{epoch:[0-9]{1,10}}"
_MAX_COMMIT_TEXT = (MAX_COMMIT_BYTES * 4 + 2) // 3


class GroupSchema(ma.Schema):
    group_id = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,64}\Z")
    )


class CommitSchema(ma.Schema):
    commit = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=_MAX_COMMIT_TEXT)
    )


def _epoch_body(stored: StoredEpoch) -> dict[str, Any]:
    return {
        "group_id": stored.group_id,
        "epoch": stored.epoch,
        "commit": to_base64url(stored.commit),
    }


async def create_group(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, GroupSchema())
    group = await request.app[GROUPS].create_group(who, body["group_id"])
    return web.json_response(
        {
            "group_id": group.id,
            "admin_account": group.admin_account,
            "created_at": group.created_at.isoformat(),
        },
        status=201,
    )


async def commit_epoch(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, CommitSchema())
    stored = await request.app[GROUPS].commit_epoch(
        who, request.match_info["group_id"], body["commit"]
    )
    return web.json_response(
        {
            "group_id": stored.group_id,
            "epoch": stored.epoch,
            "digest": to_base64url(stored.digest),
        },
        status=201,
    )


async def latest_epoch(request: web.Request) -> web.Response:
    who = await principal(request)
    stored = await request.app[GROUPS].latest(who, request.match_info["group_id"])
    return web.json_response(_epoch_body(stored))


async def get_epoch(request: web.Request) -> web.Response:
    who = await principal(request)
    stored = await request.app[GROUPS].get(
        who, request.match_info["group_id"], int(request.match_info["epoch"])
    )
    return web.json_response(_epoch_body(stored))


def add_routes(app: web.Application) -> None:
    r = app.router
    group = f"/api/v1/groups/{ID % 'group_id'}"
    r.add_post("/api/v1/groups", create_group, name="create_group")
    r.add_post(f"{group}/epochs", commit_epoch, name="commit_epoch")
    r.add_get(f"{group}/epochs/latest", latest_epoch, name="latest_epoch")
    r.add_get(f"{group}/epochs/{EPOCH}", get_epoch, name="get_epoch")
