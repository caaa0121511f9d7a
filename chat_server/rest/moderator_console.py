"""The moderator console's endpoints (``/moderation``, web/src/moderation): deciding
reports, looking an account up, searching and verifying the audit log, failed jobs.

Every one authenticates, reads and validates its body, then asks the handler, which
refuses anyone but a platform admin (403) on each request, like the other admin
endpoints. Look-up and search are POSTs with a JSON body rather than GETs with a query
string: an e-mail address or an account id in a URL lands in access logs and browser
history; in a body it does not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import marshmallow as ma
from aiohttp import web

from chat_server.appkeys import ACCOUNT_LOOKUP, AUDIT_SEARCH, FAILED_JOBS, REPORTS
from chat_server.handlers.audit_search import MAX_PAGE
from chat_server.rest.auth import principal
from chat_server.rest.bodies import read_json
from chat_server.schemas import id_field
from chat_server.storage.audit import AuditQuery
from moderation.audit import AuditAction
from moderation.reports import Decision, DecisionReason

_ID = "[A-Za-z0-9_-]{1,64}"
Handler = Callable[[web.Request], Awaitable[web.Response]]


class DecisionSchema(ma.Schema):
    reason = ma.fields.Enum(DecisionReason, by_value=True, required=True)


def _decide(decision: Decision) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = await principal(request)
        body = await read_json(request, DecisionSchema())
        await request.app[REPORTS].decide(
            who, request.match_info["report_id"], decision, body["reason"]
        )
        return web.Response(status=204)

    return handler


class LookupSchema(ma.Schema):
    """Exactly one of an account id and an e-mail address."""

    account_id = id_field()
    email = ma.fields.String(validate=ma.validate.Length(min=3, max=254))

    @ma.validates_schema
    def _exactly_one(self, data: dict[str, Any], **_: Any) -> None:
        if ("account_id" in data) == ("email" in data):
            raise ma.ValidationError("give an account_id or an email, not both", "_schema")


async def lookup_account(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, LookupSchema())
    found = await request.app[ACCOUNT_LOOKUP].find(
        who, account_id=body.get("account_id"), email=body.get("email")
    )
    return web.json_response(found)


class AuditSearchSchema(ma.Schema):
    actor = id_field()
    subject = id_field()
    action = ma.fields.Enum(AuditAction, by_value=True)
    since = ma.fields.AwareDateTime()
    until = ma.fields.AwareDateTime()
    # The seq the previous page's reply named: the entries older than it.
    before = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=2**53))
    limit = ma.fields.Integer(
        strict=True, load_default=50, validate=ma.validate.Range(min=1, max=MAX_PAGE)
    )

    @ma.validates_schema
    def _a_range(self, data: dict[str, Any], **_: Any) -> None:
        if "since" in data and "until" in data and data["since"] >= data["until"]:
            raise ma.ValidationError("until must be after since", "until")


async def search_audit(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AuditSearchSchema())
    query = AuditQuery(
        actor=body.get("actor"),
        subject=body.get("subject"),
        action=body.get("action"),
        since=body.get("since"),
        until=body.get("until"),
        before=body.get("before"),
    )
    return web.json_response(await request.app[AUDIT_SEARCH].search(who, query, body["limit"]))


async def verify_audit(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response(await request.app[AUDIT_SEARCH].verify(who))


async def failed_jobs(request: web.Request) -> web.Response:
    who = await principal(request)
    return web.json_response({"jobs": await request.app[FAILED_JOBS].listing(who)})


async def retry_job(request: web.Request) -> web.Response:
    who = await principal(request)
    job = await request.app[FAILED_JOBS].retry(who, request.match_info["job_id"])
    return web.json_response(job)


def add_routes(app: web.Application) -> None:
    r = app.router
    for decision in Decision:
        r.add_post(
            f"/api/v1/admin/reports/{{report_id:{_ID}}}/{decision}",
            _decide(decision),
            name=f"report_{decision}",
        )
    r.add_post("/api/v1/admin/accounts/lookup", lookup_account, name="admin_lookup_account")
    r.add_post("/api/v1/admin/audit/search", search_audit, name="admin_audit_search")
    r.add_post("/api/v1/admin/audit/verify", verify_audit, name="admin_audit_verify")
    r.add_get("/api/v1/admin/jobs", failed_jobs, name="admin_failed_jobs")
    r.add_post(f"/api/v1/admin/jobs/{{job_id:{_ID}}}/retry", retry_job, name="admin_retry_job")
