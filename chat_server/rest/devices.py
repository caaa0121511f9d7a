"""``/api/v1`` key directory: root key, devices, key log."""

from __future__ import annotations

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import DEVICES
from chat_server.rest.auth import client_ip, principal
from chat_server.rest.bodies import int_query, read_json

ID = "{%s:[A-Za-z0-9_-]{1,64}}"


class RootKeySchema(ma.Schema):
    root_key = ma.fields.String(required=True, validate=ma.validate.Length(max=64))


class DeviceSchema(ma.Schema):
    certificate = ma.fields.String(required=True, validate=ma.validate.Length(max=512))


async def set_root_key(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, RootKeySchema())
    await request.app[DEVICES].set_root_key(who, body["root_key"])
    return web.Response(status=204)


async def add_device(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, DeviceSchema())
    device = await request.app[DEVICES].add_device(who, body["certificate"], client_ip(request))
    return web.json_response(device.to_public(), status=201)


async def revoke_device(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[DEVICES].revoke_device(
        who, request.match_info["device_id"], client_ip(request)
    )
    return web.Response(status=204)


async def list_devices(request: web.Request) -> web.Response:
    who = await principal(request)
    entry = await request.app[DEVICES].list_devices(who, request.match_info["account_id"])
    return web.json_response(entry)


async def key_log(request: web.Request) -> web.Response:
    who = await principal(request)
    after = int_query(request, "after", default=0, maximum=10**12 - 1)
    entries = await request.app[DEVICES].key_log(who, request.match_info["account_id"], after)
    return web.json_response({"entries": entries})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_put("/api/v1/accounts/me/root-key", set_root_key, name="set_root_key")
    r.add_post("/api/v1/devices", add_device, name="add_device")
    r.add_delete(f"/api/v1/devices/{ID % 'device_id'}", revoke_device, name="revoke_device")
    r.add_get(f"/api/v1/accounts/{ID % 'account_id'}/devices", list_devices, name="list_devices")
    r.add_get(f"/api/v1/accounts/{ID % 'account_id'}/key-log", key_log, name="key_log")
