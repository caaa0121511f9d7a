"""``/api/v1`` threads, history, attachments, availability and key backup."""

from __future__ import annotations

from collections.abc import AsyncIterator

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import AVAILABILITY, CARE_THREADS, KEY_BACKUPS, THREAD_SYNC, UPLOADS
from chat_server.errors import BadRequest, OctetStreamExpected
from chat_server.handlers.key_backup import MAX_BACKUP_BYTES
from chat_server.presenters import message_frame, thread_summary
from chat_server.rest.auth import principal
from chat_server.rest.bodies import int_query, read_json
from chat_server.rest.care import ProviderSchema
from chat_server.schemas import PlainText, StrictBoolean

ID = "{%s:[A-Za-z0-9_-]{1,64}}"
OCTETS = "application/octet-stream"


class NewThreadSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["care"]))
    provider = ma.fields.Nested(ProviderSchema, required=True)
    # The patient's signed thread opening, base64url; checked in handlers/openings.py.
    opening = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=700))


class AvailabilitySchema(ma.Schema):
    accepting_requests = StrictBoolean(required=True)
    # Patients read it on the practitioner's threads: held to the same rule as names.
    away_message = ma.fields.String(
        load_default=None, validate=[ma.validate.Length(max=500), PlainText()]
    )


async def create_thread(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, NewThreadSchema())
    provider = body["provider"]
    thread = await request.app[CARE_THREADS].request(
        who, provider["kind"], provider["id"], body["opening"]
    )
    [summary] = await request.app[THREAD_SYNC].summarise([thread], marks={})
    return web.json_response(thread_summary(summary), status=201)


async def list_threads(request: web.Request) -> web.Response:
    who = await principal(request)
    summaries = await request.app[THREAD_SYNC].list_threads(who)
    return web.json_response({"threads": [thread_summary(s) for s in summaries]})


async def get_thread(request: web.Request) -> web.Response:
    who = await principal(request)
    summary = await request.app[THREAD_SYNC].summary(who, request.match_info["thread_id"])
    return web.json_response(thread_summary(summary))


async def thread_action(request: web.Request) -> web.Response:
    who = await principal(request)
    service = request.app[CARE_THREADS]
    action = {
        "accept": service.accept, "decline": service.decline,
        "block": service.block, "close": service.close,
    }[request.match_info["action"]]  # fmt: skip
    thread = await action(who, request.match_info["thread_id"])
    [summary] = await request.app[THREAD_SYNC].summarise([thread])
    return web.json_response(thread_summary(summary))


async def history(request: web.Request) -> web.Response:
    who = await principal(request)
    after = int_query(request, "after", default=None, maximum=2**53)
    before = int_query(request, "before", default=None, maximum=2**53)
    if after is not None and before is not None:
        raise BadRequest(fields={"before": ["give either after or before"]})
    limit = int_query(request, "limit", default=100, maximum=500) or 100
    page, cursor = await request.app[THREAD_SYNC].history(
        who, request.match_info["thread_id"], after=after, before=before, limit=limit
    )
    key = "next_before" if before is not None else "next_after"
    return web.json_response({"messages": [message_frame(m) for m in page], key: cursor})


async def upload_attachment(request: web.Request) -> web.Response:
    who = await principal(request)
    if request.content_type != OCTETS:
        raise OctetStreamExpected("send the ciphertext as application/octet-stream")

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in request.content.iter_chunked(256 * 1024):
            yield chunk

    stored = await request.app[UPLOADS].upload(
        who, request.match_info["thread_id"], chunks(), declared_bytes=request.content_length
    )
    return web.json_response(
        {"attachment_id": stored.attachment_id, "size": stored.size}, status=201
    )


async def download_attachment(request: web.Request) -> web.StreamResponse:
    who = await principal(request)
    download = await request.app[UPLOADS].download(who, request.match_info["attachment_id"])
    response = web.StreamResponse(headers={"Content-Type": OCTETS, "Cache-Control": "no-store"})
    response.content_length = download.size
    await response.prepare(request)
    async for chunk in download.chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


async def set_availability(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AvailabilitySchema())
    await request.app[AVAILABILITY].set(
        who, accepting_requests=body["accepting_requests"], away_message=body["away_message"]
    )
    return web.Response(status=204)


async def put_key_backup(request: web.Request) -> web.Response:
    who = await principal(request)
    if request.content_type != OCTETS:
        raise OctetStreamExpected("send the sealed backup as application/octet-stream")
    # One byte more than a backup may hold, so the handler can tell "too large".
    blob = await request.content.read(MAX_BACKUP_BYTES + 1)
    await request.app[KEY_BACKUPS].put(who, blob)
    return web.Response(status=204)


async def get_key_backup(request: web.Request) -> web.Response:
    who = await principal(request)
    blob = await request.app[KEY_BACKUPS].get(who)
    return web.Response(body=blob, content_type=OCTETS, headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    r = app.router
    thread = f"/api/v1/threads/{ID % 'thread_id'}"
    r.add_post("/api/v1/threads", create_thread, name="create_thread")
    r.add_get("/api/v1/threads", list_threads, name="list_threads")
    r.add_get(thread, get_thread, name="get_thread")
    r.add_post(thread + "/{action:accept|decline|block|close}", thread_action, name="thread_action")
    r.add_get(thread + "/messages", history, name="history")
    r.add_post(thread + "/attachments", upload_attachment, name="upload_attachment")
    r.add_get(
        f"/api/v1/attachments/{ID % 'attachment_id'}",
        download_attachment,
        name="download_attachment",
    )
    r.add_put("/api/v1/accounts/me/availability", set_availability, name="availability")
    r.add_put("/api/v1/accounts/me/key-backup", put_key_backup, name="put_key_backup")
    r.add_get("/api/v1/accounts/me/key-backup", get_key_backup, name="get_key_backup")
