"""``/api/v1/accounts``, ``/sessions``, ``/ws-tickets`` and the admin account actions."""

from __future__ import annotations

import asyncio

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import (
    ACCOUNTS,
    NOTIFICATION_PREFERENCES,
    PASSWORDS,
    REGISTRATION,
    SESSIONS,
    TICKETS,
    TOTP,
)
from chat_server.errors import SocketRateLimited
from chat_server.handlers.notification_preferences import Preferences
from chat_server.handlers.personal_data import erasure_view
from chat_server.principal import Role
from chat_server.rest.auth import bearer_token, client_ip, principal
from chat_server.rest.bodies import read_json
from chat_server.schemas import PlainText, StrictBoolean, id_field
from chat_server.storage.accounts import Registration

EMAIL = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
PASSWORD = ma.fields.String(
    required=True,
    validate=ma.validate.Length(min=10, max=256, error="10 to 256 characters"),
)


# How long a ticket request from a session barred for flooding waits for its 429.
BARRED_TICKET_HOLD_SECONDS = 1.0

SELF_REGISTERED_ROLES = [str(role) for role in Role if role is not Role.ADMIN]


class RegistrationSchema(ma.Schema):
    scheme = ma.fields.String(required=True, validate=ma.validate.OneOf(["riziv", "rpps"]))
    number = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[0-9]{8,14}\Z", error="8 to 14 digits")
    )


class RegisterSchema(ma.Schema):
    email = EMAIL
    password = PASSWORD
    # Platform admins are created by the operator (``carechat admin``): the role is not
    # offered here, so the OpenAPI document does not offer it either.
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(SELF_REGISTERED_ROLES))
    display_name = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=1, max=100), PlainText()]
    )
    registration = ma.fields.Nested(RegistrationSchema, load_default=None)

    @ma.validates_schema
    def _practitioners_register(self, data: dict[str, object], **kwargs: object) -> None:
        if data["role"] == Role.PRACTITIONER and data.get("registration") is None:
            raise ma.ValidationError(
                "practitioners give their RIZIV/INAMI or RPPS number", "registration"
            )


class LoginSchema(ma.Schema):
    email = EMAIL
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=256))
    totp_code = ma.fields.String(load_default=None, validate=ma.validate.Length(max=10))


class TokenSchema(ma.Schema):
    token = ma.fields.String(required=True, validate=ma.validate.Length(max=128))


class VerifySchema(ma.Schema):
    token = ma.fields.String(required=True, validate=ma.validate.Length(max=128))
    # The registration's password: the link alone does not activate an account.
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=256))


class PasswordChangeSchema(ma.Schema):
    current_password = ma.fields.String(required=True, validate=ma.validate.Length(max=256))
    new_password = PASSWORD


class ResetRequestSchema(ma.Schema):
    email = EMAIL


class PasswordResetSchema(ma.Schema):
    token = ma.fields.String(required=True, validate=ma.validate.Length(max=128))
    new_password = PASSWORD


class TotpCodeSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(max=10))


class NotificationPreferencesSchema(ma.Schema):
    email = StrictBoolean(required=True)
    sms = StrictBoolean(required=True)


class TicketRequestSchema(ma.Schema):
    device_id = id_field(load_default=None)


def _normalise(email: str) -> str:
    return email.strip().lower()


async def register(request: web.Request) -> web.Response:
    body = await read_json(request, RegisterSchema())
    reg = body["registration"]
    await request.app[REGISTRATION].register(
        email=_normalise(body["email"]),
        password=body["password"],
        role=Role(body["role"]),
        display_name=body["display_name"],
        registration=Registration(reg["scheme"], reg["number"], False) if reg else None,
        ip=client_ip(request),
    )
    # The same answer for a new and a known address: no account enumeration.
    return web.json_response({"status": "check your e-mail to confirm the address"}, status=202)


async def verify_email(request: web.Request) -> web.Response:
    body = await read_json(request, VerifySchema())
    account_id = await request.app[REGISTRATION].verify_email(body["token"], body["password"])
    return web.json_response({"account_id": account_id, "status": "active"})


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginSchema())
    grant = await request.app[SESSIONS].login(
        _normalise(body["email"]), body["password"], body["totp_code"], client_ip(request)
    )
    return web.json_response(
        {
            "token": grant.token,
            "account_id": grant.account.id,
            "role": str(grant.account.role),
            "expires_at": grant.expires_at.isoformat(),
            "erasure": erasure_view(grant.account),
        },
        status=201,
    )


async def logout(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[SESSIONS].logout(who, client_ip(request))
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response(await request.app[ACCOUNTS].profile(who))


async def change_password(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, PasswordChangeSchema())
    await request.app[PASSWORDS].change_password(
        who, body["current_password"], body["new_password"], client_ip(request)
    )
    return web.Response(status=204)


async def request_password_reset(request: web.Request) -> web.Response:
    body = await read_json(request, ResetRequestSchema())
    await request.app[PASSWORDS].request_password_reset(
        _normalise(body["email"]), client_ip(request)
    )
    # The same answer whether or not an account has this address.
    return web.json_response({"status": "check your e-mail for a reset link"}, status=202)


async def reset_password(request: web.Request) -> web.Response:
    body = await read_json(request, PasswordResetSchema())
    await request.app[PASSWORDS].reset_password(
        body["token"], body["new_password"], client_ip(request)
    )
    return web.Response(status=204)


async def start_totp(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response(await request.app[TOTP].start_totp(who), status=201)


async def confirm_totp(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, TotpCodeSchema())
    await request.app[TOTP].confirm_totp(who, body["code"], client_ip(request))
    return web.Response(status=204)


async def notification_preferences(request: web.Request) -> web.Response:
    who = await principal(request)
    preferences = await request.app[NOTIFICATION_PREFERENCES].get(who)
    return web.json_response(preferences.to_dict())


async def set_notification_preferences(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, NotificationPreferencesSchema())
    preferences = await request.app[NOTIFICATION_PREFERENCES].set(
        who, Preferences(email=body["email"], sms=body["sms"])
    )
    return web.json_response(preferences.to_dict())


async def issue_ticket(request: web.Request) -> web.Response:
    tickets = request.app[TICKETS]
    token = bearer_token(request)
    try:
        # A barred flooder is refused before any database look-up...
        tickets.refuse_if_barred(token)
    except SocketRateLimited as barred:
        # ...and only after a pause: a client retrying at once, whatever Retry-After
        # says, then asks once a second instead of thousands of times.
        await asyncio.sleep(min(barred.retry_after or 0.0, BARRED_TICKET_HOLD_SECONDS))
        tickets.refuse_if_barred(token)  # the time left, or let through
    who = await principal(request)
    body = await read_json(request, TicketRequestSchema())
    ticket, expires = await tickets.issue_ticket(who, body["device_id"])
    return web.json_response({"ticket": ticket, "expires_at": expires.isoformat()}, status=201)


async def admin_verify_registration(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[ACCOUNTS].verify_registration(who, request.match_info["account_id"])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/accounts", register, name="register")
    r.add_post("/api/v1/accounts/verify", verify_email, name="verify_email")
    r.add_post(
        "/api/v1/accounts/password-reset", request_password_reset, name="request_password_reset"
    )
    r.add_post("/api/v1/accounts/password-reset/confirm", reset_password, name="reset_password")
    r.add_get("/api/v1/accounts/me", me, name="me")
    r.add_post("/api/v1/accounts/me/password", change_password, name="change_password")
    r.add_post("/api/v1/accounts/me/totp", start_totp, name="start_totp")
    r.add_post("/api/v1/accounts/me/totp/confirm", confirm_totp, name="confirm_totp")
    preferences = "/api/v1/accounts/me/notification-preferences"
    r.add_get(preferences, notification_preferences, name="notification_preferences")
    r.add_put(preferences, set_notification_preferences, name="set_notification_preferences")
    r.add_post("/api/v1/sessions", login, name="login")
    r.add_delete("/api/v1/sessions/current", logout, name="logout")
    r.add_post("/api/v1/ws-tickets", issue_ticket, name="ws_ticket")
    r.add_post(
        "/api/v1/admin/accounts/{account_id:[A-Za-z0-9_-]{1,64}}/verify-registration",
        admin_verify_registration,
        name="admin_verify_registration",
    )
