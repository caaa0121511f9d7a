"""``/api/v1`` threads, history, attachments, availability and key backup."""

from __future__ import annotations

from collections.abc import AsyncIterator

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import ACCOUNTS_STORE, ATTACHMENTS, CLOCK, KEY_BACKUPS, THREADS, UPLOADS
from chat_server.errors import BadRequest, NotFound, OctetStreamExpected, TooLarge
from chat_server.presenters import message_frame, thread_summary
from chat_server.rest.auth import principal
from chat_server.rest.bodies import int_query, read_json
from chat_server.rest.care import ProviderSchema
from chat_server.schemas import PlainText, StrictBoolean

ID = "{%s:[A-Za-z0-9_-]{1,64}}"
MAX_BACKUP_BYTES = 64 * 1024
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
    service = request.app[THREADS]
    thread = await service.request(who, provider["kind"], provider["id"], body["opening"])
    [summary] = await service.summarise([thread], {thread.id: 0})
    return web.json_response(thread_summary(summary), status=201)


async def list_threads(request: web.Request) -> web.Response:
    who = await principal(request)
    summaries = await request.app[THREADS].list_threads(who)
    return web.json_response({"threads": [thread_summary(s) for s in summaries]})


async def get_thread(request: web.Request) -> web.Response:
    who = await principal(request)
    summary = await request.app[THREADS].summary(who, request.match_info["thread_id"])
    return web.json_response(thread_summary(summary))


async def thread_action(request: web.Request) -> web.Response:
    who = await principal(request)
    service = request.app[THREADS]
    action = {
        "accept": service.accept, "decline": service.decline,
        "block": service.block, "close": service.close,
    }[request.match_info["action"]]  # fmt: skip
    thread = await action(who, request.match_info["thread_id"])
    [summary] = await service.summarise([thread])
    return web.json_response(thread_summary(summary))


async def history(request: web.Request) -> web.Response:
    who = await principal(request)
    after = int_query(request, "after", default=None, maximum=2**53)
    before = int_query(request, "before", default=None, maximum=2**53)
    if after is not None and before is not None:
        raise BadRequest(fields={"before": ["give either after or before"]})
    limit = int_query(request, "limit", default=100, maximum=500) or 100
    page, cursor = await request.app[THREADS].history(
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
    store = request.app[ATTACHMENTS]
    info = await store.info(request.match_info["attachment_id"])
    if info is None:
        raise NotFound()
    await request.app[THREADS].access(who, info.thread_id)  # NotFound for strangers too
    response = web.StreamResponse(headers={"Content-Type": OCTETS, "Cache-Control": "no-store"})
    response.content_length = info.size
    await response.prepare(request)
    async for chunk in store.download(info.id):
        await response.write(chunk)
    await response.write_eof()
    return response


async def set_availability(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AvailabilitySchema())
    await request.app[ACCOUNTS_STORE].set_fields(
        who.account_id,
        accepting_requests=body["accepting_requests"],
        away_message=body["away_message"],
    )
    return web.Response(status=204)


async def put_key_backup(request: web.Request) -> web.Response:
    who = await principal(request)
    if request.content_type != OCTETS:
        raise OctetStreamExpected("send the sealed backup as application/octet-stream")
    blob = await request.content.read(MAX_BACKUP_BYTES + 1)
    if len(blob) > MAX_BACKUP_BYTES:
        raise TooLarge(f"a key backup is 1 to {MAX_BACKUP_BYTES} bytes")
    if not blob:
        raise BadRequest(f"a key backup is 1 to {MAX_BACKUP_BYTES} bytes")
    await request.app[KEY_BACKUPS].put(who.account_id, blob, request.app[CLOCK].now())
    return web.Response(status=204)


async def get_key_backup(request: web.Request) -> web.Response:
    who = await principal(request)
    blob = await request.app[KEY_BACKUPS].get(who.account_id)
    if blob is None:
        raise NotFound()
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
