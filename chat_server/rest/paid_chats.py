"""``/api/v1/paid-chats``, ``/api/v1/payments``, ``/api/v1/payouts`` and Stripe's
webhook: paid general chats over HTTP. Decisions are in handlers/paid_chats.py.

The webhook is read as raw bytes (the signature covers them exactly: parsing first
would verify something else) and needs no session: Stripe's signature is the only
credential it carries.
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import PAID_CHATS, RECONCILIATION
from chat_server.errors import BadRequest
from chat_server.presenters import paid_chat_reply, paid_terms_reply, reconciliation_reply
from chat_server.rest.auth import principal
from chat_server.rest.bodies import read_json
from chat_server.rest.panels import ID, SealedSchema


class StartSchema(SealedSchema):
    # The paid chat's thread id, chosen by the client (the question's id in the queue).
    thread_id = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{22}\Z")
    )


async def start_paid_chat(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, StartSchema())
    chat = await request.app[PAID_CHATS].start(
        who, body["thread_id"], body["client_msg_id"], body["envelope"]
    )
    return web.json_response(paid_chat_reply(chat), status=201)


async def paid_chat_terms(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response(paid_terms_reply(request.app[PAID_CHATS].terms(who)))


async def paid_chat_status(request: web.Request) -> web.Response:
    who = await principal(request)
    chat = await request.app[PAID_CHATS].status(who, request.match_info["thread_id"])
    return web.json_response(paid_chat_reply(chat))


async def close_paid_chat(request: web.Request) -> web.Response:
    who = await principal(request)
    chat = await request.app[PAID_CHATS].close(who, request.match_info["thread_id"])
    return web.json_response(paid_chat_reply(chat))


async def cancel_paid_chat(request: web.Request) -> web.Response:
    who = await principal(request)
    chat = await request.app[PAID_CHATS].cancel(who, request.match_info["thread_id"])
    return web.json_response(paid_chat_reply(chat))


async def list_payments(request: web.Request) -> web.Response:
    who = await principal(request)
    chats = await request.app[PAID_CHATS].payments(who)
    return web.json_response({"payments": [paid_chat_reply(c) for c in chats]})


async def list_payouts(request: web.Request) -> web.Response:
    who = await principal(request)
    chats = await request.app[PAID_CHATS].payouts(who)
    return web.json_response({"payouts": [paid_chat_reply(c) for c in chats]})


async def stripe_webhook(request: web.Request) -> web.Response:
    body = await request.read()
    await request.app[PAID_CHATS].receive(body, request.headers.get("Stripe-Signature"))
    return web.json_response({"received": True})


async def reconciliation(request: web.Request) -> web.Response:
    who = await principal(request)
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError:
        raise BadRequest(fields={"day": ["a date, YYYY-MM-DD"]}) from None
    report = await request.app[RECONCILIATION].daily(who, day)
    return web.json_response(reconciliation_reply(report))


def add_routes(app: web.Application) -> None:
    r = app.router
    chat = f"/api/v1/paid-chats/{ID % 'thread_id'}"
    r.add_post("/api/v1/paid-chats", start_paid_chat, name="start_paid_chat")
    r.add_get("/api/v1/paid-chats/terms", paid_chat_terms, name="paid_chat_terms")
    r.add_get(chat, paid_chat_status, name="paid_chat")
    r.add_post(f"{chat}/close", close_paid_chat, name="close_paid_chat")
    r.add_post(f"{chat}/cancel", cancel_paid_chat, name="cancel_paid_chat")
    r.add_get("/api/v1/payments", list_payments, name="list_payments")
    r.add_get("/api/v1/payouts", list_payouts, name="list_payouts")
    r.add_post("/api/v1/stripe/webhook", stripe_webhook, name="stripe_webhook")
    r.add_get(
        "/api/v1/admin/payments/reconciliation/{day:[A-Za-z0-9_-]{1,64}}",
        reconciliation,
        name="payments_reconciliation",
    )
