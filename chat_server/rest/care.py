"""``/api/v1`` practices, invitations and care links."""

from __future__ import annotations

import re

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import CARE, INVITATIONS, PRACTICES
from chat_server.rest.auth import client_ip, principal
from chat_server.rest.bodies import read_json
from chat_server.schemas import PlainText, StrictBoolean, id_field
from chat_server.storage.practices import Practice, ProviderKind
from e2e_crypto.wire import to_base64url

ID = "{%s:[A-Za-z0-9_-]{1,64}}"


class PracticeSchema(ma.Schema):
    name = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=1, max=120), PlainText()]
    )


class MemberSchema(ma.Schema):
    # One of the two: the account's id, or the address it signs in with (the console).
    account_id = id_field(load_default=None)
    email = ma.fields.Email(load_default=None, validate=ma.validate.Length(max=254))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(["practitioner", "staff"]))

    @ma.validates_schema
    def _one_account(self, data: dict[str, str | None], **kwargs: object) -> None:
        if (data.get("account_id") is None) == (data.get("email") is None):
            raise ma.ValidationError("either account_id or email", "account_id")


class MembershipSchema(ma.Schema):
    # base64url of a signed list (e2e_crypto.membership_public): at most 80 KiB.
    membership = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=110_000))


class ProviderSchema(ma.Schema):
    kind = ma.fields.Enum(ProviderKind, by_value=True, required=True)
    id = id_field(required=True)


class InvitationSchema(ma.Schema):
    provider = ma.fields.Nested(ProviderSchema, required=True)
    channel = ma.fields.String(required=True, validate=ma.validate.OneOf(["email", "sms"]))
    to = ma.fields.String(required=True, validate=ma.validate.Length(min=3, max=254))

    @ma.validates_schema
    def _address_matches_channel(self, data: dict[str, str], **kwargs: object) -> None:
        if data["channel"] == "email":
            ma.fields.Email().deserialize(data["to"])
        elif not re.fullmatch(r"\+[1-9][0-9]{7,14}", data["to"]):
            raise ma.ValidationError("an E.164 phone number like +32470123456", "to")


class CodeSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(max=128))


class AcceptSchema(CodeSchema):
    # The code texted to the invited number (SMS invitations only).
    phone_code = ma.fields.String(
        load_default=None, validate=ma.validate.Regexp(r"^[0-9]{6}\Z", error="6 digits")
    )


class LinkRequestSchema(ma.Schema):
    provider = ma.fields.Nested(ProviderSchema, required=True)


class AnswerSchema(ma.Schema):
    accept = StrictBoolean(required=True)


async def create_practice(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, PracticeSchema())
    practice = await request.app[PRACTICES].create_practice(who, body["name"])
    return web.json_response(practice.to_public(), status=201)


async def own_practices(request: web.Request) -> web.Response:
    who = await principal(request)
    own = await request.app[PRACTICES].own_practices(who)
    return web.json_response({"practices": [p.to_public() for p in own]})


async def get_practice(request: web.Request) -> web.Response:
    who = await principal(request)
    practice = await request.app[PRACTICES].get_practice(who, request.match_info["practice_id"])
    return web.json_response(practice.to_public())


async def add_member(request: web.Request) -> web.Response:
    """Proposes a role: the account must accept, then the admin's client signs it in."""
    who = await principal(request)
    body = await read_json(request, MemberSchema())
    practices, practice_id = request.app[PRACTICES], request.match_info["practice_id"]
    if body["email"] is not None:
        practice = await practices.invite_member_by_email(
            who, practice_id, body["email"], body["role"]
        )
    else:
        practice = await practices.invite_member(who, practice_id, body["account_id"], body["role"])
    return web.json_response(practice.to_public(with_invitations=True))


async def withdraw_offer(request: web.Request) -> web.Response:
    """The admin takes back an offered role (not yet on the signed list)."""
    who = await principal(request)
    await request.app[PRACTICES].withdraw_offer(
        who, request.match_info["practice_id"], request.match_info["account_id"]
    )
    return web.Response(status=204)


async def practice_people(request: web.Request) -> web.Response:
    who = await principal(request)
    people = await request.app[PRACTICES].people(who, request.match_info["practice_id"])
    return web.json_response({"people": [p.to_public() for p in people]})


async def membership_invitations(request: web.Request) -> web.Response:
    who = await principal(request)
    invitations = await request.app[PRACTICES].membership_invitations(who)
    return web.json_response({"invitations": invitations})


async def accept_membership(request: web.Request) -> web.Response:
    who = await principal(request)
    practice = await request.app[PRACTICES].accept_membership(
        who, request.match_info["practice_id"]
    )
    return web.json_response(practice.to_public())


async def withdraw_membership(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[PRACTICES].withdraw_membership(who, request.match_info["practice_id"])
    return web.Response(status=204)


async def publish_membership(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, MembershipSchema())
    practice = await request.app[PRACTICES].publish_membership(
        who, request.match_info["practice_id"], body["membership"]
    )
    return web.json_response(_membership(practice))


async def get_membership(request: web.Request) -> web.Response:
    who = await principal(request)
    practice = await request.app[PRACTICES].membership(who, request.match_info["practice_id"])
    return web.json_response(_membership(practice))


def _membership(practice: Practice) -> dict[str, object]:
    return {
        "practice_id": practice.id,
        "admin": practice.admin,
        "epoch": practice.epoch,
        "membership": to_base64url(practice.membership) if practice.membership else None,
    }


async def invite(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, InvitationSchema())
    provider = body["provider"]
    await request.app[INVITATIONS].invite(
        who, provider["kind"], provider["id"], body["channel"], body["to"], client_ip(request)
    )
    return web.json_response({"status": "sent"}, status=202)


async def send_phone_code(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, CodeSchema())
    await request.app[INVITATIONS].send_phone_code(who, body["code"], client_ip(request))
    return web.json_response({"status": "sent"}, status=202)


async def accept_invitation(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AcceptSchema())
    link = await request.app[INVITATIONS].accept_invitation(
        who, body["code"], body["phone_code"], client_ip(request)
    )
    return web.json_response(link.to_public(), status=201)


async def request_link(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, LinkRequestSchema())
    provider = body["provider"]
    link = await request.app[CARE].request_link(
        who, provider["kind"], provider["id"], client_ip(request)
    )
    return web.json_response(link.to_public(), status=201)


async def answer_link(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AnswerSchema())
    link = await request.app[CARE].answer_request(
        who, request.match_info["link_id"], body["accept"], client_ip(request)
    )
    return web.json_response(link.to_public())


async def end_link(request: web.Request) -> web.Response:
    who = await principal(request)
    link = await request.app[CARE].end_link(who, request.match_info["link_id"], client_ip(request))
    return web.json_response(link.to_public())


async def list_links(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response({"care_links": await request.app[CARE].list_links(who)})


def add_routes(app: web.Application) -> None:
    r = app.router
    practice = f"/api/v1/practices/{ID % 'practice_id'}"
    member = f"{practice}/members/{ID % 'account_id'}"
    link = f"/api/v1/care-links/{ID % 'link_id'}"
    r.add_post("/api/v1/practices", create_practice, name="create_practice")
    r.add_get("/api/v1/practices", own_practices, name="own_practices")
    r.add_get(practice, get_practice, name="get_practice")
    r.add_post(f"{practice}/members", add_member, name="add_member")
    r.add_delete(member, withdraw_offer, name="withdraw_offer")
    r.add_get(f"{practice}/people", practice_people, name="practice_people")
    r.add_get(f"{practice}/membership", get_membership, name="get_membership")
    r.add_put(f"{practice}/membership", publish_membership, name="publish_membership")
    r.add_post(f"{practice}/membership/accept", accept_membership, name="accept_membership")
    r.add_delete(f"{practice}/membership/consent", withdraw_membership, name="withdraw_membership")
    r.add_get("/api/v1/practice-invitations", membership_invitations, name="membership_invitations")
    r.add_post("/api/v1/invitations", invite, name="invite")
    r.add_post("/api/v1/invitations/phone-code", send_phone_code, name="invitation_phone_code")
    r.add_post("/api/v1/invitations/accept", accept_invitation, name="accept_invitation")
    r.add_get("/api/v1/care-links", list_links, name="list_links")
    r.add_post("/api/v1/care-links", request_link, name="request_link")
    r.add_post(f"{link}/answer", answer_link, name="answer_link")
    r.add_delete(link, end_link, name="end_link")
