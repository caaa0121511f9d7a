"""``GET /api/v1/openapi.json``: the HTTP API described from the real route table.

Paths, methods and path parameters come from the application's router, so a route
cannot be added or renamed without the document following. What the router cannot
know — the request body schema a handler reads, what it answers, which errors it can
give — is declared here, one :class:`Operation` per route name, with the same
marshmallow schemas the handlers validate with (``rest/replies.py`` for answers).
The document is built once at start-up: a route without an entry stops the server
from starting. ``tests/fuzz`` checks the document against the server's behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

import marshmallow as ma
from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from chat_server.appkeys import OPENAPI_DOCUMENT
from chat_server.error_codes import codes_by_status, openapi_codes
from chat_server.rest import (
    accounts,
    care,
    devices,
    groups,
    mailings,
    moderation,
    moderator_console,
    paid_chats,
    panels,
    personal_data,
    replies,
    threads,
)
from chat_server.rest.problems import PROBLEM_TYPE

OPENAPI_PATH: Final = "/api/v1/openapi.json"
# Served, but not JSON-over-HTTP operations: the WebSocket (docs/protocol.md), the
# Prometheus text exposition, the web client's pages (rest/pages.py) and Stripe's
# webhook (signed raw bytes from Stripe, not a client operation: docs/payments.md).
UNDOCUMENTED_ROUTES: Final = frozenset(
    {"ws", "metrics", "web_app", "web_widget", "web_widget_loader", "web_built_file"}
    | {"web_verify", "web_invite", "web_panel", "web_practice", "web_moderation"}
    | {"web_announcements"}
    | {"stripe_webhook"}
    # The HTML page behind a mailing notice's unsubscribe link (rest/mailings.py).
    | {"mailing_unsubscribe_page", "mailing_unsubscribe_confirm"}
)
OCTETS: Final = "application/octet-stream"
JSON_OBJECT: Final = "application/json"  # any JSON object (this document itself)
HTML: Final = "text/html"  # a printable page (a receipt)
ZIP: Final = personal_data.ZIP  # the GDPR export archive (docs/gdpr.md)

_STATUS_TEXT: Final = {
    400: "Malformed request (not JSON, or a code that is unknown, used or expired)",
    401: "No valid session, or wrong credentials (or a required TOTP code missing)",
    403: "Authenticated, but not allowed",
    404: "Absent, or not yours (the same answer)",
    409: "Conflicts with the current state",
    413: "The body is over its size limit",
    415: "Wrong Content-Type",
    422: "The body or a query parameter does not match its schema",
    429: "Rate limited; see Retry-After",
    503: "A dependency (MongoDB, Redis) is unavailable; retry after Retry-After",
}


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    maximum: int


@dataclass(frozen=True, slots=True)
class Operation:
    """What one route reads and answers, beyond its path and method."""

    summary: str
    status: int
    reply: type[ma.Schema] | str | None = None  # a schema, OCTETS, JSON_OBJECT or no body
    body: type[ma.Schema] | str | None = None  # a JSON schema, or OCTETS
    errors: tuple[int, ...] = ()  # beyond those implied by auth, body and path
    auth: bool = True
    query: tuple[Query, ...] = ()
    storage: bool = True  # touches MongoDB/Redis, so it can answer 503


_SEQ: Final = 2**53

OPERATIONS: Final[dict[str, Operation]] = {
    "openapi": Operation("This document", 200, JSON_OBJECT, auth=False, storage=False),
    "healthz": Operation("Liveness", 200, replies.StatusReply, auth=False, storage=False),
    "readyz": Operation("Readiness (503 when not ready)", 200, replies.Readiness, auth=False),
    # accounts, sessions, tickets
    "register": Operation(
        "Register (the same answer for a known address)", 202, replies.StatusReply,
        accounts.RegisterSchema, errors=(429,), auth=False,
    ),
    "verify_email": Operation(
        "Confirm an e-mail address with the token from the link and the password "
        "registered with it", 200, replies.VerifiedAccount, accounts.VerifySchema,
        errors=(429,), auth=False,
    ),
    "request_password_reset": Operation(
        "Mail a single-use password-reset link (the same answer for any address)", 202,
        replies.StatusReply, accounts.ResetRequestSchema, errors=(429,), auth=False,
    ),
    "reset_password": Operation(
        "Set a new password with the reset token; ends every session", 204, None,
        accounts.PasswordResetSchema, auth=False,
    ),
    "me": Operation("The caller's profile", 200, replies.Profile),
    "change_password": Operation(
        "Change the password; ends every other session", 204, None,
        accounts.PasswordChangeSchema, errors=(429,),
    ),
    "notification_preferences": Operation(
        "How a waiting message is announced (e-mail, text)", 200,
        replies.NotificationPreferencesReply,
    ),
    "set_notification_preferences": Operation(
        "Turn the e-mail or text announcing a waiting message on or off", 200,
        replies.NotificationPreferencesReply, accounts.NotificationPreferencesSchema,
    ),
    "start_totp": Operation(
        "Start two-factor set-up (practitioners, admins)", 201, replies.TotpSetup,
        errors=(403, 409),
    ),
    "confirm_totp": Operation(
        "Turn two-factor login on with a first code", 204, None, accounts.TotpCodeSchema,
        errors=(409,),
    ),
    "login": Operation(
        "Log in: a bearer session token", 201, replies.Session, accounts.LoginSchema,
        errors=(401, 403, 429), auth=False,
    ),
    "logout": Operation("End this session and its sockets", 204),
    "ws_ticket": Operation(
        "A single-use ticket for the WebSocket hello (429 while a socket of this session "
        "or device is barred for flooding)", 201, replies.Ticket,
        accounts.TicketRequestSchema, errors=(404, 429),
    ),
    "admin_verify_registration": Operation(
        "Mark a practitioner's registration verified (platform admins)", 204,
        errors=(403,),
    ),
    # moderation
    "admin_warn": Operation(
        "Warn an account, with a reason (moderators)", 204, None, moderation.SanctionSchema,
        errors=(403,),
    ),
    "admin_suspend": Operation(
        "Suspend an account, with a reason (moderators): ends its sessions and closes its "
        "sockets on every process", 204, None, moderation.SanctionSchema, errors=(403, 409),
    ),
    "admin_lift": Operation(
        "Lift an account's suspension, with a reason (moderators)", 204, None,
        moderation.SanctionSchema, errors=(403, 409),
    ),
    "file_report": Operation(
        "Report a message by revealing its plaintext and franking key; the server checks "
        "them against its stamp and queues the report, verified or marked unverifiable",
        201, replies.ReportFiled, moderation.ReportSchema, errors=(404, 409, 429),
    ),
    "report_queue": Operation(
        "The newest queued abuse reports (moderators)", 200, replies.ReportQueue,
        errors=(403,),
    ),
    "report_resolve": Operation(
        "Resolve a queued report, with a reason code (moderators; audited)", 204, None,
        moderator_console.DecisionSchema, errors=(403, 409),
    ),
    "report_dismiss": Operation(
        "Dismiss a queued report, with a reason code (moderators; audited)", 204, None,
        moderator_console.DecisionSchema, errors=(403, 409),
    ),
    "admin_lookup_account": Operation(
        "Look an account up by id or e-mail address: status, role, sanctions, reports "
        "against it, devices (moderators; audited)", 200, replies.AccountLookupReply,
        moderator_console.LookupSchema, errors=(403, 404),
    ),
    "admin_audit_search": Operation(
        "Search the audit log by actor, subject, action and time, newest first, a page "
        "at a time (moderators)", 200, replies.AuditPage,
        moderator_console.AuditSearchSchema, errors=(403,),
    ),
    "admin_audit_verify": Operation(
        "Verify the audit log's hash chain: OK, or its first broken link (moderators)",
        200, replies.AuditVerification, errors=(403,),
    ),
    "admin_failed_jobs": Operation(
        "Failed durable jobs, without their payloads (moderators)", 200, replies.JobList,
        errors=(403,),
    ),
    "admin_retry_job": Operation(
        "Make a failed job due again, its attempts reset (moderators; audited)", 200,
        replies.JobReply, errors=(403, 409),
    ),
    "my_consents": Operation(
        "The caller's consents: the current text versions, which consents count now, and "
        "the full history", 200, replies.ConsentState,
    ),
    "grant_consent": Operation(
        "Consent to a purpose, naming the text version shown (patients)", 204, None,
        moderation.GrantSchema, errors=(403, 404, 409),
    ),
    "revoke_consent": Operation(
        "Revoke a consent; it counts no longer (patients)", 204, None,
        moderation.ConsentSchema, errors=(403, 404),
    ),
    "my_blocks": Operation("The accounts the caller has blocked", 200, replies.BlockList),
    "block": Operation(
        "Block an account: neither can request a thread with the other, send to a shared "
        "thread, or see the other's typing or away message", 204, errors=(422,),
    ),
    "unblock": Operation("Undo the caller's own block", 204),
    "my_sanctions": Operation(
        "The warnings and suspensions the caller was given, with how to appeal", 200,
        replies.SanctionList,
    ),
    # key directory
    "set_root_key": Operation(
        "Publish the account's root key", 204, None, devices.RootKeySchema
    ),
    "add_device": Operation(
        "Add a device with a certificate signed by the root key", 201, replies.DeviceReply,
        devices.DeviceSchema, errors=(409,),
    ),
    "revoke_device": Operation("Revoke one of the caller's devices", 204),
    "list_devices": Operation(
        "An account's root key and active devices", 200, replies.DeviceListing,
        errors=(429,),
    ),
    "key_log": Operation(
        "An account's append-only key log", 200, replies.KeyLog, errors=(422, 429),
        query=(Query("after", 10**12 - 1),),
    ),
    # practices, invitations, care links
    "create_practice": Operation(
        "Create a practice (practice admins)", 201, replies.PracticeReply,
        care.PracticeSchema, errors=(403,),
    ),
    "own_practices": Operation(
        "The practices the caller administers or is listed in (practitioner, staff), "
        "by name, with its roles there; offers are membership_invitations", 200,
        replies.OwnPractices,
    ),
    "get_practice": Operation(
        "A practice the caller belongs to, is invited by or is linked to", 200,
        replies.PracticeReply,
    ),
    "add_member": Operation(
        "Propose a practitioner or staff role (the practice's admins) to an account "
        "by its id or its e-mail address (patients' are not found); the account "
        "must accept it before a signed membership list may name it", 200,
        replies.PracticeReply, care.MemberSchema, errors=(409, 429),
    ),
    "withdraw_offer": Operation(
        "Take back a role offered to an account (the practice's admins), accepted or "
        "not, while no signed membership list names it", 204, None, errors=(409,),
    ),
    "practice_people": Operation(
        "The practice's admins, listed members and invitees with their display names "
        "(the practice's admins)", 200, replies.PracticePeople,
    ),
    "get_membership": Operation(
        "The practice's latest membership list, signed by its admin's root key", 200,
        replies.MembershipReply,
    ),
    "publish_membership": Operation(
        "Publish the next signed membership list (the practice's admin)", 200,
        replies.MembershipReply, care.MembershipSchema, errors=(409,),
    ),
    "accept_membership": Operation(
        "Accept the practice role offered to the caller", 200, replies.PracticeReply,
        errors=(409,),
    ),
    "withdraw_membership": Operation(
        "Decline or withdraw consent to a practice role", 204, None,
    ),
    "membership_invitations": Operation(
        "The practice roles offered to the caller", 200, replies.PracticeInvitations,
    ),
    "invite": Operation(
        "Invite a patient by e-mail or SMS", 202, replies.StatusReply,
        care.InvitationSchema, errors=(404, 429),
    ),
    "invitation_phone_code": Operation(
        "Text a code to the number an SMS invitation went to (patients)", 202,
        replies.StatusReply, care.CodeSchema, errors=(403, 429),
    ),
    "accept_invitation": Operation(
        "Accept an invitation bound to the caller's address or texted code (patients)",
        201, replies.CareLinkReply, care.AcceptSchema, errors=(403, 409, 429),
    ),
    "list_links": Operation("The caller's care links", 200, replies.CareLinks),
    "request_link": Operation(
        "Ask a provider for a care link (patients)", 201, replies.CareLinkReply,
        care.LinkRequestSchema, errors=(403, 404, 409, 429),
    ),
    "answer_link": Operation(
        "Accept or decline a link request (the provider)", 200, replies.CareLinkReply,
        care.AnswerSchema, errors=(403, 409),
    ),
    "end_link": Operation("End a care link", 200, replies.CareLinkReply, errors=(409,)),
    # threads, history, attachments, key backup
    "create_thread": Operation(
        "Request a care thread with a linked provider (patients)", 201,
        replies.ThreadReply, threads.NewThreadSchema, errors=(403, 404, 409, 422, 429),
    ),
    "list_threads": Operation("The caller's threads", 200, replies.Threads),
    "get_thread": Operation("One thread's summary", 200, replies.ThreadReply),
    "thread_action": Operation(
        "Accept, decline, block or close a thread", 200, replies.ThreadReply,
        errors=(403, 409),
    ),
    "history": Operation(
        "A page of a thread's messages (after or before a seq)", 200, replies.History,
        errors=(422,), query=(Query("after", _SEQ), Query("before", _SEQ), Query("limit", 500)),
    ),
    "upload_attachment": Operation(
        "Upload an encrypted attachment to a thread (1 byte to the size limit; "
        "per-account rate and storage quota; purged unless a message claims it)",
        201, replies.AttachmentStored, OCTETS, errors=(400, 429),
    ),
    "download_attachment": Operation("Download an encrypted attachment", 200, OCTETS),
    "availability": Operation(
        "Accept new requests or not, and an away message", 204, None,
        threads.AvailabilitySchema,
    ),
    # GDPR (docs/gdpr.md)
    "export_data": Operation(
        "Everything stored about the caller, as a ZIP archive (password asked again)",
        200, ZIP, personal_data.PasswordSchema, errors=(429,),
    ),
    "erasure_status": Operation("The caller's pending erasure, if any", 200, replies.ErasureView),
    "request_erasure": Operation(
        "Ask for the account's erasure after the grace period (password asked again)",
        202, replies.ErasureView, personal_data.PasswordSchema, errors=(409, 429),
    ),
    "cancel_erasure": Operation(
        "Cancel a pending erasure within its grace period", 204, None, errors=(409,)
    ),
    # The same with the login's proof instead of a session (a suspended account)
    "export_data_with_credentials": Operation(
        "Everything stored about the account, as a ZIP archive, without a session",
        200, ZIP, personal_data.CredentialsSchema, errors=(401, 429), auth=False,
    ),
    "erasure_status_with_credentials": Operation(
        "The account's pending erasure, if any, without a session",
        200, replies.ErasureView, personal_data.CredentialsSchema, errors=(401, 429), auth=False,
    ),
    "request_erasure_with_credentials": Operation(
        "Ask for the account's erasure after the grace period, without a session",
        202, replies.ErasureView, personal_data.CredentialsSchema, errors=(401, 409, 429),
        auth=False,
    ),
    "cancel_erasure_with_credentials": Operation(
        "Cancel a pending erasure within its grace period, without a session",
        204, None, personal_data.CredentialsSchema, errors=(401, 409, 429), auth=False,
    ),
    "put_key_backup": Operation(
        "Store the sealed key backup (1 to 64 KiB)", 204, None, OCTETS, errors=(422,)
    ),
    "get_key_backup": Operation(
        "The sealed key backup", 200, OCTETS, errors=(404,)
    ),
    # groups
    "create_group": Operation(
        "Create a group (the caller is its admin)", 201, replies.GroupReply,
        groups.GroupSchema, errors=(409,),
    ),
    "commit_epoch": Operation(
        "Post the group's next signed epoch commit (its admin)", 201,
        replies.EpochStored, groups.CommitSchema, errors=(403, 409),
    ),
    "latest_epoch": Operation("The group's latest epoch commit", 200, replies.EpochReply),
    "get_epoch": Operation("One epoch commit of the group", 200, replies.EpochReply),
    # the GP panel
    "create_panel": Operation(
        "Create a panel (a practitioner, its admin) and its group", 201, replies.PanelReply,
        panels.NewPanelSchema, errors=(403, 409),
    ),
    "list_panels": Operation(
        "Every panel; ?mine=1: those the caller sits on or administers", 200, replies.Panels,
        errors=(422,), query=(Query("mine", 1),),
    ),
    "get_panel": Operation("One panel", 200, replies.PanelReply),
    "panel_settings": Operation(
        "Change a panel's settings and per-GP capacities (its admin)", 200,
        replies.PanelReply, panels.SettingsChangeSchema,
    ),
    "commit_panel_epoch": Operation(
        "Post the panel's next signed epoch (verified practitioners only); removed GPs "
        "lose their claims and are told", 201, replies.EpochStored, groups.CommitSchema,
        errors=(403, 409),
    ),
    "panel_members": Operation(
        "The panel's GPs by name, and who is online (its GPs and its admin)", 200,
        replies.PanelMembers,
    ),
    "panel_member_lookup": Operation(
        "Find a verified practitioner to add, by e-mail address (its admin); 404 for "
        "anyone else", 200, replies.PanelMemberReply, panels.MemberLookupSchema,
    ),
    "latest_panel_epoch": Operation(
        "The panel's current epoch commit (public: patients encrypt to it)", 200,
        replies.EpochReply,
    ),
    "get_panel_epoch": Operation("One epoch commit of the panel", 200, replies.EpochReply),
    "panel_online": Operation(
        "Mark the caller online on the panel for a while (the console's heartbeat)", 200,
        replies.PanelOnline,
    ),
    "panel_offline": Operation("Mark the caller offline on the panel", 204),
    "panel_stats": Operation("The panel's live figures (its GPs)", 200, replies.PanelStatsReply),
    "panel_queue": Operation(
        "The questions waiting (for an online GP) and the caller's own", 200,
        replies.PanelQueue,
    ),
    "panel_ratings": Operation(
        "The panel's newest ratings (its GPs): score, and the comment sealed to the panel",
        200, replies.PanelRatings,
    ),
    "panel_claim": Operation(
        "Claim the oldest question, or a chosen one, within capacity (online GPs)", 201,
        replies.QueueItemReply, panels.ClaimSchema, errors=(409,),
    ),
    "ask_panel": Operation(
        "Ask a free question (patients): sealed to the panel's current epoch; 200 when it "
        "collapses into an earlier one", 201, replies.Asked, panels.AskSchema,
        errors=(403, 409),
    ),
    "panel_question": Operation(
        "A question's state, place in the queue and wait estimate", 200,
        replies.QuestionStatusReply,
    ),
    "panel_question_messages": Operation(
        "A page of a question's messages after a seq", 200, replies.QuestionMessages,
        errors=(422,), query=(Query("after", _SEQ),),
    ),
    "panel_question_post": Operation(
        "A message in the question (the patient, or the GP holding it; answer: true "
        "answers it)", 201, replies.Posted, panels.PostSchema, errors=(403, 409),
    ),
    "panel_lease": Operation(
        "Renew the caller's lease on a claimed question", 200, replies.LeaseReply,
        errors=(409,),
    ),
    "panel_question_action": Operation(
        "Release, park or resume a held question (its GP); withdraw or keep waiting "
        "(its patient)", 200, replies.QueueItemReply, errors=(409,),
    ),
    "panel_handover": Operation(
        "Hand a claimed question to an online colleague (first in their list)", 200,
        replies.QueueItemReply, panels.HandOverSchema, errors=(409,),
    ),
    "panel_convert": Operation(
        "Turn a held question into a booking invitation or a paid-chat offer", 200,
        replies.QueueItemReply, panels.ConvertSchema, errors=(409,),
    ),
    "panel_rating": Operation(
        "Rate the answer 1-5, with an optional comment sealed to the panel", 204, None,
        panels.RatingSchema, errors=(403, 409),
    ),
    "start_paid_chat": Operation(
        "Start a paid general chat: its sealed question, then a Stripe Checkout Session "
        "(pending_payment until the payment holds; no checkout_url yet while Stripe is "
        "retried by a job: poll the chat)", 201, replies.PaidChatReply,
        paid_chats.StartSchema, errors=(403, 409, 503),
    ),
    "paid_chat": Operation(
        "A paid chat's state, money and window (its patient or answering GP)", 200,
        replies.PaidChatReply,
    ),
    "paid_chat_terms": Operation(
        "What a paid chat started now costs (integer cents) and how long it stays open",
        200, replies.PaidChatTermsReply, errors=(403, 503),
    ),
    "close_paid_chat": Operation(
        "The answering GP closes the window early (after a closing summary)", 200,
        replies.PaidChatReply, errors=(409,),
    ),
    "cancel_paid_chat": Operation(
        "The patient gives up while the payment is being prepared (no checkout_url yet): "
        "closed, nothing charged", 200, replies.PaidChatReply, errors=(409,),
    ),
    "list_payments": Operation(
        "The patient's paid chats and what each finally cost", 200, replies.Payments,
        errors=(403,),
    ),
    "payment_receipt": Operation(
        "A printable HTML receipt of a charged paid chat (its patient)", 200, HTML,
    ),
    "payments_reconciliation": Operation(
        "A UTC day of paid chats against Stripe's events, with every mismatch "
        "(platform admins)", 200, replies.ReconciliationReply, errors=(403, 422),
    ),
    "list_payouts": Operation(
        "The practitioner's answered paid chats (for payout)", 200, replies.Payouts,
    ),
    # prevention mailings
    "create_campaign": Operation(
        "Create a draft campaign from its sealed broadcast body (practice members)", 201,
        replies.CampaignReply, mailings.NewCampaignSchema, errors=(409, 422),
    ),
    "list_campaigns": Operation("The practice's campaigns", 200, replies.Campaigns),
    "get_campaign": Operation(
        "A campaign and its progress (counts only)", 200, replies.CampaignWithProgress
    ),
    "add_recipients": Operation(
        "Add recipients and their slips to a draft (at most 500 a call)", 200,
        replies.RecipientCount, mailings.RecipientsSchema, errors=(409, 422),
    ),
    "remove_recipients": Operation(
        "Remove recipients from a draft", 200, replies.RecipientCount,
        mailings.PatientsSchema, errors=(409,),
    ),
    "schedule_campaign": Operation(
        "Schedule a draft (send_at absent or past: now); its recipients freeze", 200,
        replies.CampaignReply, mailings.ScheduleSchema, errors=(409,),
    ),
    "campaign_action": Operation(
        "Unschedule, pause, resume or cancel a campaign", 200, replies.CampaignReply,
        errors=(409,),
    ),
    "import_roster": Operation(
        "Import roster rows (labels sealed to the staff group); rejected rows by line",
        200, replies.RosterImported, mailings.RosterImportSchema, errors=(429,),
    ),
    "list_roster": Operation("The practice's roster", 200, replies.Roster),
    "list_announcements": Operation(
        "The caller's announcements thread (patients)", 200, replies.AnnouncementList,
        errors=(403,),
    ),
    "read_announcement": Operation(
        "Mark a received campaign read (patients)", 204, None, errors=(403,)
    ),
    "unsubscribe": Operation(
        "RFC 8058 one-click unsubscribe: no session, idempotent", 200,
        replies.StatusReply, auth=False,
    ),
}  # fmt: skip

# A named group of the regex aiohttp compiles for a route: ``(?P<thread_id>[A-Za-z0-9_-]{1,64})``.
_PATH_PARAM = re.compile(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)")


def build_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of ``app`` but the undocumented ones."""
    spec = APISpec(
        title="CareChat HTTP API",
        version="1",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "End-to-end encrypted messaging; see docs/protocol.md."},
    )
    spec.components.security_scheme(
        "session", {"type": "http", "scheme": "bearer", "description": "POST /api/v1/sessions"}
    )
    # The codes come from the error classes, as docs/protocol.md's table does.
    spec.components.schema("Problem", {"x-error-codes": openapi_codes()}, schema=replies.Problem)
    codes = codes_by_status()
    for status, text in _STATUS_TEXT.items():
        listed = ", ".join(f"`{code}`" for code in codes.get(status, []))
        spec.components.response(
            _problem_name(status),
            {
                "description": f"{text}. Codes: {listed}" if listed else text,
                "content": {PROBLEM_TYPE: {"schema": "Problem"}},
            },
        )
    paths: dict[str, dict[str, dict[str, Any]]] = {}
    for route in app.router.routes():
        if (
            route.method == "HEAD"  # aiohttp adds one to every GET
            or route.name in UNDOCUMENTED_ROUTES
            or isinstance(route.resource, web.StaticResource)
        ):
            continue
        if route.name is None or route.name not in OPERATIONS:
            raise LookupError(f"route {route.method} {route.resource} is not described")
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if path is None:
            raise LookupError(f"route {route.name} has no plain path")
        params = _path_parameters(info["pattern"]) if "pattern" in info else []
        operation = _operation(route.name, OPERATIONS[route.name], params)
        paths.setdefault(path, {})[route.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document: dict[str, Any] = _ecma_patterns(spec.to_dict())
    return document


def _operation(name: str, op: Operation, params: list[dict[str, Any]]) -> dict[str, Any]:
    errors = set(op.errors)
    if op.storage:
        errors.add(503)
    if op.auth:
        errors.add(401)
    if params:
        errors.add(404)
    if op.body == OCTETS:
        errors |= {413, 415}
    elif op.body is not None:
        errors |= {400, 413, 415, 422}
    responses: dict[str, Any] = {str(op.status): _reply(op)}
    for status in sorted(errors):
        responses[str(status)] = _problem_name(status)
    if name == "readyz":  # not ready is an answer with the same body, not a problem
        responses["503"] = {**responses[str(op.status)], "description": "Not ready"}
    document: dict[str, Any] = {
        "operationId": name,
        "summary": op.summary,
        "security": [{"session": []}] if op.auth else [],
        "responses": responses,
    }
    parameters = params + [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": q.maximum},
        }
        for q in op.query
    ]
    if parameters:
        document["parameters"] = parameters
    if op.body == OCTETS:
        document["requestBody"] = {
            "required": True,
            "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
        }
    elif op.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.body}},
        }
    return document


def _problem_name(status: int) -> str:
    return HTTPStatus(status).phrase.replace(" ", "")


def _reply(op: Operation) -> dict[str, Any]:
    if op.reply is None:
        return {"description": "Done"}
    if op.reply == OCTETS:
        schema: Any = {"type": "string", "format": "binary"}
        return {"description": "The stored bytes", "content": {OCTETS: {"schema": schema}}}
    if op.reply == ZIP:
        archive: Any = {"type": "string", "format": "binary"}
        return {"description": "A ZIP archive", "content": {ZIP: {"schema": archive}}}
    if op.reply == HTML:
        page: Any = {"type": "string"}
        return {"description": "A printable page", "content": {HTML: {"schema": page}}}
    schema = {"type": "object"} if op.reply == JSON_OBJECT else op.reply
    return {"description": "Success", "content": {"application/json": {"schema": schema}}}


def _path_parameters(pattern: re.Pattern[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": f"^(?:{regex})$"},
        }
        for name, regex in _PATH_PARAM.findall(pattern.pattern)
    ]


def _ecma_patterns(node: Any) -> Any:
    r"""Python's ``\Z`` (end of string, no newline before it) is JSON Schema's ``$``."""
    if isinstance(node, dict):
        return {
            key: (
                value[:-2] + "$"
                if key == "pattern" and isinstance(value, str) and value.endswith(r"\Z")
                else _ecma_patterns(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_ecma_patterns(item) for item in node]
    return node


async def serve_document(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_DOCUMENT])


async def _build_on_startup(app: web.Application) -> None:
    app[OPENAPI_DOCUMENT] = build_document(app)


def add_routes(app: web.Application) -> None:
    app.router.add_get(OPENAPI_PATH, serve_document, name="openapi")
    app.on_startup.append(_build_on_startup)
