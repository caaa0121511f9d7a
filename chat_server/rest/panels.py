"""``/api/v1/panels`` and ``/api/v1/panel-questions``: the GP panel over HTTP.

Set-up and membership (panel admins), presence, the live queue and statistics (GPs),
claims and what follows them (the GP holding a question), asking, waiting, messages
and rating (patients). Decisions are in handlers/panels.py, panel_claims.py and
panel_questions.py; shapes in presenters.py. The same views are pushed live over the
WebSocket (``panel`` and ``question`` frames, ws/panels.py).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import PANEL_CLAIMS, PANEL_MEMBERS, PANEL_QUESTIONS, PANELS
from chat_server.errors import NotFound
from chat_server.model.queue import Outcome
from chat_server.presenters import (
    message_frame,
    panel_member_reply,
    panel_reply,
    panel_stats_reply,
    question_status_reply,
    queue_item_reply,
)
from chat_server.rest.auth import principal
from chat_server.rest.bodies import int_query, read_json
from chat_server.rest.groups import CommitSchema
from chat_server.schemas import PlainText, StrictBoolean
from chat_server.storage.groups import StoredEpoch
from e2e_crypto.wire import MAX_ENVELOPE_BYTES, to_base64url

ID = "{%s:[A-Za-z0-9_-]{1,64}}"
EPOCH = "{epoch:[0-9]{1,10}}"
_SEQ = 2**53
_ENVELOPE_TEXT = (MAX_ENVELOPE_BYTES * 4 + 2) // 3
_IDENT = ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,64}\Z")


def _range(low: int, high: int) -> ma.validate.Range:
    return ma.validate.Range(min=low, max=high, error=f"an integer from {low} to {high}")


class SettingsSchema(ma.Schema):
    capacity = ma.fields.Integer(validate=_range(1, 100))
    lease_seconds = ma.fields.Integer(validate=_range(30, 3600))
    max_wait_minutes = ma.fields.Integer(validate=_range(1, 24 * 60))
    follow_up_hours = ma.fields.Integer(validate=_range(0, 24 * 14))
    daily_free_questions = ma.fields.Integer(validate=_range(0, 100))


class NewPanelSchema(ma.Schema):
    panel_id = ma.fields.String(required=True, validate=_IDENT)
    name = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=1, max=120), PlainText()]
    )
    settings = ma.fields.Nested(SettingsSchema, load_default=dict)


class SettingsChangeSchema(SettingsSchema):
    # GP account -> their own capacity, or null to fall back to the panel's.
    capacity_overrides = ma.fields.Dict(
        keys=ma.fields.String(validate=_IDENT),
        values=ma.fields.Integer(allow_none=True, validate=_range(0, 100)),
        load_default=dict,
    )


class MemberLookupSchema(ma.Schema):
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))


class ClaimSchema(ma.Schema):
    # None: the oldest question waiting (or the one handed to the caller).
    question_id = ma.fields.String(load_default=None, validate=_IDENT)


class SealedSchema(ma.Schema):
    client_msg_id = ma.fields.String(required=True, validate=_IDENT)
    envelope = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=_ENVELOPE_TEXT)
    )


class AskSchema(SealedSchema):
    question_id = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{22}\Z")
    )


class PostSchema(SealedSchema):
    answer = StrictBoolean(load_default=False)


class HandOverSchema(ma.Schema):
    to = ma.fields.String(required=True, validate=_IDENT)


class ConvertSchema(ma.Schema):
    outcome = ma.fields.String(
        required=True, validate=ma.validate.OneOf([str(Outcome.BOOKING), str(Outcome.PAID_OFFER)])
    )
    price_cents = ma.fields.Integer(load_default=None, validate=_range(1, 1_000_000))


class RatingSchema(ma.Schema):
    score = ma.fields.Integer(required=True, validate=_range(1, 5))
    comment = ma.fields.Nested(SealedSchema, load_default=None)


def _epoch_body(stored: StoredEpoch) -> dict[str, Any]:
    return {
        "group_id": stored.group_id,
        "epoch": stored.epoch,
        "commit": to_base64url(stored.commit),
    }


# -- panels -------------------------------------------------------------------------------


async def create_panel(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, NewPanelSchema())
    panel = await request.app[PANELS].create(who, body["panel_id"], body["name"], body["settings"])
    return web.json_response(panel_reply(panel), status=201)


async def list_panels(request: web.Request) -> web.Response:
    who = await principal(request)
    # ?mine=1: the panels the caller sits on or administers (the console's choice).
    mine = int_query(request, "mine", default=0, maximum=1) == 1
    panels = await (request.app[PANEL_MEMBERS].mine(who) if mine else request.app[PANELS].all())
    return web.json_response({"panels": [panel_reply(p) for p in panels]})


async def get_panel(request: web.Request) -> web.Response:
    await principal(request)
    panel = await request.app[PANELS].get(request.match_info["panel_id"])
    return web.json_response(panel_reply(panel))


async def change_panel_settings(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, SettingsChangeSchema())
    overrides = body.pop("capacity_overrides")
    panel = await request.app[PANELS].update_settings(
        who, request.match_info["panel_id"], body, overrides
    )
    return web.json_response(panel_reply(panel))


async def commit_panel_epoch(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, CommitSchema())
    stored = await request.app[PANELS].commit_epoch(
        who, request.match_info["panel_id"], body["commit"]
    )
    return web.json_response(
        {"group_id": stored.group_id, "epoch": stored.epoch, "digest": to_base64url(stored.digest)},
        status=201,
    )


async def panel_members(request: web.Request) -> web.Response:
    who = await principal(request)
    members = await request.app[PANEL_MEMBERS].members(who, request.match_info["panel_id"])
    return web.json_response({"members": [panel_member_reply(m) for m in members]})


async def lookup_member(request: web.Request) -> web.Response:
    # A POST: the address stays out of URLs and access logs.
    who = await principal(request)
    body = await read_json(request, MemberLookupSchema())
    found = await request.app[PANEL_MEMBERS].find_practitioner(
        who, request.match_info["panel_id"], body["email"]
    )
    return web.json_response(panel_member_reply(found))


async def latest_panel_epoch(request: web.Request) -> web.Response:
    await principal(request)
    stored = await request.app[PANELS].epoch(request.match_info["panel_id"], None)
    return web.json_response(_epoch_body(stored))


async def get_panel_epoch(request: web.Request) -> web.Response:
    await principal(request)
    stored = await request.app[PANELS].epoch(
        request.match_info["panel_id"], int(request.match_info["epoch"])
    )
    return web.json_response(_epoch_body(stored))


async def go_online(request: web.Request) -> web.Response:
    who = await principal(request)
    until = await request.app[PANELS].set_presence(who, request.match_info["panel_id"], online=True)
    assert until is not None
    return web.json_response({"online_until": until.isoformat()})


async def go_offline(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[PANELS].set_presence(who, request.match_info["panel_id"], online=False)
    return web.Response(status=204)


async def panel_stats(request: web.Request) -> web.Response:
    who = await principal(request)
    stats = await request.app[PANELS].stats(who, request.match_info["panel_id"])
    return web.json_response(panel_stats_reply(stats))


async def panel_ratings(request: web.Request) -> web.Response:
    who = await principal(request)
    found = await request.app[PANEL_QUESTIONS].ratings(who, request.match_info["panel_id"])
    return web.json_response(
        {
            "ratings": [
                {
                    "question_id": r.question_id,
                    "patient_id": r.patient_id,
                    "score": r.score,
                    "at": r.at.isoformat(),
                    "comment": None if r.comment is None else to_base64url(r.comment),
                }
                for r in found
            ]
        }
    )


async def panel_queue(request: web.Request) -> web.Response:
    who = await principal(request)
    view = await request.app[PANELS].queue(who, request.match_info["panel_id"])
    return web.json_response(
        {
            "queued": [queue_item_reply(q) for q in view.queued],
            "mine": [queue_item_reply(q) for q in view.mine],
            # The GP console quotes this price in a paid-chat offer (convert).
            "paid_chat_price": {
                "price_cents": request.app[PANEL_CLAIMS].paid_price.price_cents,
                "currency": request.app[PANEL_CLAIMS].paid_price.currency,
            },
        }
    )


async def claim(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, ClaimSchema())
    item = await request.app[PANEL_CLAIMS].claim(
        who, request.match_info["panel_id"], body["question_id"]
    )
    return web.json_response(queue_item_reply(item), status=201)


async def ask(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AskSchema())
    questions = request.app[PANEL_QUESTIONS]
    asked = await questions.ask(
        who,
        request.match_info["panel_id"],
        body["question_id"],
        body["client_msg_id"],
        body["envelope"],
    )
    status = await questions.status_of(asked.item)
    return web.json_response(
        {**question_status_reply(status), "duplicate": asked.duplicate},
        status=200 if asked.duplicate else 201,
    )


# -- one question ---------------------------------------------------------------------------


async def question_status(request: web.Request) -> web.Response:
    who = await principal(request)
    status = await request.app[PANEL_QUESTIONS].status(who, request.match_info["question_id"])
    return web.json_response(question_status_reply(status))


async def question_messages(request: web.Request) -> web.Response:
    who = await principal(request)
    after = int_query(request, "after", default=0, maximum=_SEQ)
    found = await request.app[PANEL_QUESTIONS].messages(
        who, request.match_info["question_id"], after
    )
    return web.json_response({"messages": [dict(message_frame(m)) for m in found]})


async def post_message(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, PostSchema())
    stored = await request.app[PANEL_QUESTIONS].post(
        who,
        request.match_info["question_id"],
        body["client_msg_id"],
        body["envelope"],
        answer=body["answer"],
    )
    return web.json_response({"seq": stored.seq, "duplicate": stored.duplicate}, status=201)


async def renew_lease(request: web.Request) -> web.Response:
    who = await principal(request)
    until = await request.app[PANEL_CLAIMS].renew(who, request.match_info["question_id"])
    return web.json_response({"lease_until": until.isoformat()})


async def question_action(request: web.Request) -> web.Response:
    who = await principal(request)
    question_id, step = request.match_info["question_id"], request.match_info["step"]
    claims, questions = request.app[PANEL_CLAIMS], request.app[PANEL_QUESTIONS]
    if step == "release":
        item = await claims.release(who, question_id)
    elif step == "park":
        item = await claims.park(who, question_id)
    elif step == "resume":
        item = await claims.resume(who, question_id)
    elif step == "withdraw":
        item = await questions.withdraw(who, question_id)
    elif step == "keep-waiting":
        item = await questions.keep_waiting(who, question_id)
    else:
        raise NotFound()
    return web.json_response(queue_item_reply(item))


async def hand_over(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, HandOverSchema())
    item = await request.app[PANEL_CLAIMS].hand_over(
        who, request.match_info["question_id"], body["to"]
    )
    return web.json_response(queue_item_reply(item))


async def convert(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, ConvertSchema())
    item = await request.app[PANEL_CLAIMS].convert(
        who, request.match_info["question_id"], Outcome(body["outcome"]), body["price_cents"]
    )
    return web.json_response(queue_item_reply(item))


async def rate(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, RatingSchema())
    comment = body["comment"]
    await request.app[PANEL_QUESTIONS].rate(
        who,
        request.match_info["question_id"],
        body["score"],
        None if comment is None else (comment["client_msg_id"], comment["envelope"]),
    )
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    panel = f"/api/v1/panels/{ID % 'panel_id'}"
    question = f"/api/v1/panel-questions/{ID % 'question_id'}"
    r.add_post("/api/v1/panels", create_panel, name="create_panel")
    r.add_get("/api/v1/panels", list_panels, name="list_panels")
    r.add_get(panel, get_panel, name="get_panel")
    r.add_patch(f"{panel}/settings", change_panel_settings, name="panel_settings")
    r.add_post(f"{panel}/epochs", commit_panel_epoch, name="commit_panel_epoch")
    r.add_get(f"{panel}/members", panel_members, name="panel_members")
    r.add_post(f"{panel}/member-lookup", lookup_member, name="panel_member_lookup")
    r.add_get(f"{panel}/epochs/latest", latest_panel_epoch, name="latest_panel_epoch")
    r.add_get(f"{panel}/epochs/{EPOCH}", get_panel_epoch, name="get_panel_epoch")
    r.add_put(f"{panel}/presence", go_online, name="panel_online")
    r.add_delete(f"{panel}/presence", go_offline, name="panel_offline")
    r.add_get(f"{panel}/stats", panel_stats, name="panel_stats")
    r.add_get(f"{panel}/queue", panel_queue, name="panel_queue")
    r.add_get(f"{panel}/ratings", panel_ratings, name="panel_ratings")
    r.add_post(f"{panel}/claims", claim, name="panel_claim")
    r.add_post(f"{panel}/questions", ask, name="ask_panel")
    r.add_get(question, question_status, name="panel_question")
    r.add_get(f"{question}/messages", question_messages, name="panel_question_messages")
    r.add_post(f"{question}/messages", post_message, name="panel_question_post")
    r.add_post(f"{question}/lease", renew_lease, name="panel_lease")
    r.add_post(f"{question}/handover", hand_over, name="panel_handover")
    r.add_post(f"{question}/convert", convert, name="panel_convert")
    r.add_post(f"{question}/rating", rate, name="panel_rating")
    # Last: the named steps above must match before this catch-all of words.
    r.add_post(
        # release, park, resume (the GP holding it); withdraw, keep-waiting (its patient)
        f"{question}/{{step:[a-z-]{{1,20}}}}",
        question_action,
        name="panel_question_action",
    )
