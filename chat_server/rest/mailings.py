"""``/api/v1`` prevention mailings: roster, campaigns, announcements, unsubscribe.

The practice side (any member of the practice): roster import and listing, campaigns
and their recipients, schedule, pause, resume, cancel, progress. The patient side:
the announcements they received, read receipts (receiving them is a consent:
``/api/v1/consents``). And the RFC 8058 one-click unsubscribe, which takes no session:
the token in the URL is all it needs, and it revokes that consent.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import ANNOUNCEMENTS, MAILINGS, ROSTER
from chat_server.errors import NotFound
from chat_server.handlers.roster import MAX_LABELS_BYTES, RosterInput
from chat_server.model.campaigns import Campaign
from chat_server.rest.auth import client_ip, principal
from chat_server.rest.bodies import read_json
from chat_server.schemas import id_field
from e2e_crypto.broadcast_public import MAX_BROADCAST_BODY_BYTES
from e2e_crypto.errors import CryptoError
from e2e_crypto.wire import from_base64url, to_base64url

ID = "{%s:[A-Za-z0-9_-]{1,64}}"
MAX_SLIP_BYTES = 1024
MAX_NOTE_BYTES = 1024


class Base64Bytes(ma.fields.String):
    """Unpadded base64url text, decoded; non-canonical or oversized text is a 422."""

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_bytes = max_bytes

    # Bytes, not the str of its base class: the OpenAPI document still says "string".
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> bytes:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return from_base64url(text, max_bytes=self.max_bytes)
        except (CryptoError, ValueError):
            raise ma.ValidationError(
                f"unpadded base64url of at most {self.max_bytes} bytes"
            ) from None


class NewCampaignSchema(ma.Schema):
    campaign_id = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{16,64}\Z")
    )
    body = Base64Bytes(required=True, max_bytes=MAX_BROADCAST_BODY_BYTES)
    # Sealed by the practice's client to its staff group: what its console shows.
    note = Base64Bytes(load_default=None, allow_none=True, max_bytes=MAX_NOTE_BYTES)


class RecipientSchema(ma.Schema):
    patient = id_field(required=True)
    slips = ma.fields.List(
        Base64Bytes(max_bytes=MAX_SLIP_BYTES),
        required=True,
        validate=ma.validate.Length(min=1, max=20),
    )


class RecipientsSchema(ma.Schema):
    recipients = ma.fields.List(
        ma.fields.Nested(RecipientSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=500),
    )


class PatientsSchema(ma.Schema):
    patients = ma.fields.List(
        id_field(), required=True, validate=ma.validate.Length(min=1, max=500)
    )


class ScheduleSchema(ma.Schema):
    # Absent or null: now. A time in the past also means now.
    send_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)


class RosterRowSchema(ma.Schema):
    line = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=10_000_000))
    # Checked by the roster service, which reports a bad one with its line.
    email = ma.fields.String(required=True, validate=ma.validate.Length(max=320))
    language = ma.fields.String(required=True, validate=ma.validate.Length(max=16))
    labels = Base64Bytes(required=True, max_bytes=MAX_LABELS_BYTES)


class RosterImportSchema(ma.Schema):
    group = id_field(required=True)
    epoch = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31))
    rows = ma.fields.List(
        ma.fields.Nested(RosterRowSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=500),
    )


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": campaign.id,
        "practice_id": campaign.practice_id,
        "created_by": campaign.created_by,
        "state": str(campaign.state),
        "send_at": campaign.send_at.isoformat() if campaign.send_at else None,
        "pause_reason": str(campaign.pause_reason) if campaign.pause_reason else None,
        "created_at": campaign.created_at.isoformat(),
        "note": to_base64url(campaign.note) if campaign.note is not None else None,
    }


async def create_campaign(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, NewCampaignSchema())
    campaign = await request.app[MAILINGS].create(
        who, request.match_info["practice_id"], body["campaign_id"], body["body"], body["note"]
    )
    return web.json_response(campaign_json(campaign), status=201)


async def list_campaigns(request: web.Request) -> web.Response:
    who = await principal(request)
    found = await request.app[MAILINGS].listing(who, request.match_info["practice_id"])
    return web.json_response({"campaigns": [campaign_json(c) for c in found]})


async def get_campaign(request: web.Request) -> web.Response:
    who = await principal(request)
    view = await request.app[MAILINGS].view(who, request.match_info["campaign_id"])
    return web.json_response(
        {**campaign_json(view.campaign), "progress": dict(view.progress.to_public())}
    )


async def add_recipients(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, RecipientsSchema())
    recipients = {r["patient"]: r["slips"] for r in body["recipients"]}
    count = await request.app[MAILINGS].add_recipients(
        who, request.match_info["campaign_id"], recipients
    )
    return web.json_response({"recipients": count})


async def remove_recipients(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, PatientsSchema())
    count = await request.app[MAILINGS].remove_recipients(
        who, request.match_info["campaign_id"], body["patients"]
    )
    return web.json_response({"recipients": count})


async def schedule_campaign(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, ScheduleSchema())
    campaign = await request.app[MAILINGS].schedule(
        who, request.match_info["campaign_id"], body["send_at"]
    )
    return web.json_response(campaign_json(campaign))


async def campaign_action(request: web.Request) -> web.Response:
    who = await principal(request)
    service = request.app[MAILINGS]
    action = {
        "unschedule": service.unschedule, "pause": service.pause,
        "resume": service.resume, "cancel": service.cancel,
    }.get(request.match_info["action"])  # fmt: skip
    if action is None:
        raise NotFound()
    campaign = await action(who, request.match_info["campaign_id"])
    return web.json_response(campaign_json(campaign))


async def import_roster(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, RosterImportSchema())
    rows = [RosterInput(r["line"], r["email"], r["language"], r["labels"]) for r in body["rows"]]
    report = await request.app[ROSTER].import_rows(
        who,
        request.match_info["practice_id"],
        group=body["group"],
        epoch=body["epoch"],
        rows=rows,
        ip=client_ip(request),
    )
    return web.json_response(
        {
            "imported": report.imported,
            "updated": report.updated,
            "rejected": [{"line": r.line, "reason": r.reason} for r in report.rejected],
        }
    )


async def list_roster(request: web.Request) -> web.Response:
    who = await principal(request)
    entries = await request.app[ROSTER].entries(who, request.match_info["practice_id"])
    return web.json_response(
        {
            "rows": [
                {
                    "row_id": e.row.id,
                    "line": e.row.line,
                    "email": e.row.email,
                    "language": e.row.language,
                    "labels": to_base64url(e.row.labels),
                    "group": e.row.group,
                    "epoch": e.row.epoch,
                    "account_id": e.account_id,
                }
                for e in entries
            ]
        }
    )


async def list_announcements(request: web.Request) -> web.Response:
    who = await principal(request)
    found = await request.app[ANNOUNCEMENTS].listing(who)
    return web.json_response(
        {
            "announcements": [
                {
                    "campaign_id": a.campaign_id,
                    "practice_id": a.practice_id,
                    "body": to_base64url(a.body),
                    "slips": [to_base64url(s) for s in a.slips],
                    "delivered_at": a.delivered_at.isoformat(),
                    "read": a.read,
                }
                for a in found
            ]
        }
    )


async def read_announcement(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[ANNOUNCEMENTS].read(who, request.match_info["campaign_id"])
    return web.Response(status=204)


async def unsubscribe(request: web.Request) -> web.Response:
    # RFC 8058: a POST with body "List-Unsubscribe=One-Click", no cookies, no session.
    # The body is not needed (the token says everything) and not parsed.
    await request.app[ANNOUNCEMENTS].unsubscribe(request.match_info["token"])
    return web.json_response({"status": "unsubscribed"})


# The page behind the link in the notice's body. Following a link must not
# unsubscribe (mail scanners fetch links), so the page asks for a click, which POSTs.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CareChat</title></head>
<body><main>
<h1>{title}</h1>
<p>{text}</p>
{form}
</main></body></html>
"""
_ASK = (
    "Stop prevention messages from this practice? / Ne plus recevoir les messages de "
    "prévention de ce cabinet ? / Geen preventieberichten meer van deze praktijk?"
)
_DONE = (
    "You will receive no more prevention messages from this practice. / Vous ne "
    "recevrez plus de messages de prévention de ce cabinet. / U ontvangt geen "
    "preventieberichten meer van deze praktijk."
)
_FORM = (
    '<form method="post"><button type="submit">'
    "Unsubscribe / Se désabonner / Afmelden</button></form>"
)


def _page(title: str, text: str, form: str = "", status: int = 200) -> web.Response:
    return web.Response(
        text=_PAGE.format(title=title, text=text, form=form),
        status=status,
        content_type="text/html",
    )


async def unsubscribe_page(request: web.Request) -> web.Response:
    return _page("CareChat", _ASK, _FORM)


async def unsubscribe_page_post(request: web.Request) -> web.Response:
    await request.app[ANNOUNCEMENTS].unsubscribe(request.match_info["token"])
    return _page("CareChat", _DONE)


def add_routes(app: web.Application) -> None:
    r = app.router
    practice = f"/api/v1/practices/{ID % 'practice_id'}"
    campaign = f"/api/v1/campaigns/{ID % 'campaign_id'}"
    r.add_post(f"{practice}/campaigns", create_campaign, name="create_campaign")
    r.add_get(f"{practice}/campaigns", list_campaigns, name="list_campaigns")
    r.add_get(campaign, get_campaign, name="get_campaign")
    r.add_post(f"{campaign}/recipients", add_recipients, name="add_recipients")
    r.add_post(f"{campaign}/recipients/remove", remove_recipients, name="remove_recipients")
    r.add_post(f"{campaign}/schedule", schedule_campaign, name="schedule_campaign")
    r.add_post(
        f"{campaign}/{{action:[a-z]{{1,16}}}}",
        campaign_action,
        name="campaign_action",
    )
    r.add_post(f"{practice}/roster", import_roster, name="import_roster")
    r.add_get(f"{practice}/roster", list_roster, name="list_roster")
    r.add_get("/api/v1/announcements", list_announcements, name="list_announcements")
    r.add_post(
        f"/api/v1/announcements/{ID % 'campaign_id'}/read",
        read_announcement,
        name="read_announcement",
    )
    r.add_post(
        "/api/v1/mailings/unsubscribe/{token:[A-Za-z0-9_-]{1,100}}",
        unsubscribe,
        name="unsubscribe",
    )
    page = "/mailings/unsubscribe/{token:[A-Za-z0-9_-]{1,100}}"
    r.add_get(page, unsubscribe_page, name="mailing_unsubscribe_page")
    r.add_post(page, unsubscribe_page_post, name="mailing_unsubscribe_confirm")
