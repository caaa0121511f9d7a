"""What the HTTP API answers, as marshmallow schemas: the OpenAPI document's responses.

Handlers build their answers as plain dicts (``to_public()`` and friends); these
schemas only describe them. They are kept honest from outside: the fuzz tests check
every answer the server gives against the served document (``tests/fuzz``).
"""

from __future__ import annotations

import marshmallow as ma

from chat_server.errors import ErrorCode
from chat_server.model.threads import ThreadKind, ThreadState
from chat_server.principal import Role
from chat_server.storage.practices import LinkStatus, ProviderKind
from moderation.consents import ConsentAction, Purpose
from moderation.reports import Category, Verification
from moderation.sanctions import ModeratorAction, Reason

_Str = ma.fields.String
_Int = ma.fields.Integer
_Time = ma.fields.DateTime


class Problem(ma.Schema):
    """RFC 9457 problem details; ``code`` is stable, ``title`` and ``detail`` are prose."""

    type = _Str(required=True)
    status = _Int(required=True)
    code = ma.fields.Enum(ErrorCode, by_value=True, required=True)
    title = _Str(required=True)
    detail = _Str()
    # "fields" would shadow Schema.fields: the attribute has another name.
    field_errors = ma.fields.Dict(keys=_Str(), values=ma.fields.List(_Str()), data_key="fields")
    retry_after = ma.fields.Float()
    request_id = _Str()
    devices = ma.fields.List(ma.fields.Dict(keys=_Str(), values=_Str()))
    # account_suspended at login: why, and how to appeal.
    suspension = ma.fields.Dict(keys=_Str(), values=_Str())


class SanctionReply(ma.Schema):
    action = ma.fields.Enum(ModeratorAction, by_value=True, required=True)
    reason = ma.fields.Enum(Reason, by_value=True, required=True)
    at = _Time(required=True)
    note = _Str()
    appeal = _Str()


class SanctionList(ma.Schema):
    sanctions = ma.fields.List(ma.fields.Nested(SanctionReply), required=True)


class CurrentConsent(ma.Schema):
    purpose = ma.fields.Enum(Purpose, by_value=True, required=True)
    scope = _Str(required=True)
    version = _Str(required=True)
    since = _Time(required=True)


class ConsentEntry(ma.Schema):
    purpose = ma.fields.Enum(Purpose, by_value=True, required=True)
    scope = _Str(required=True)
    action = ma.fields.Enum(ConsentAction, by_value=True, required=True)
    version = _Str(required=True)
    at = _Time(required=True)


class ConsentState(ma.Schema):
    text_versions = ma.fields.Dict(keys=_Str(), values=_Str(), required=True)
    current = ma.fields.List(ma.fields.Nested(CurrentConsent), required=True)
    history = ma.fields.List(ma.fields.Nested(ConsentEntry), required=True)


class BlockReply(ma.Schema):
    account_id = _Str(required=True)
    since = _Time(required=True)


class BlockList(ma.Schema):
    blocks = ma.fields.List(ma.fields.Nested(BlockReply), required=True)


class ReportFiled(ma.Schema):
    report_id = _Str(required=True)
    verification = ma.fields.Enum(Verification, by_value=True, required=True)


class ReportSender(ma.Schema):
    account = _Str(required=True)
    device = _Str(required=True)


class QueuedReport(ma.Schema):
    report_id = _Str(required=True)
    # A message's report: its thread and seq (campaign null); a mailing's: its
    # campaign (thread and seq null).
    thread = _Str(required=True, allow_none=True)
    seq = _Int(required=True, allow_none=True)
    campaign = _Str(required=True, allow_none=True)
    reporter = _Str(required=True)
    sender = ma.fields.Nested(ReportSender, required=True)
    category = ma.fields.Enum(Category, by_value=True, required=True)
    verification = ma.fields.Enum(Verification, by_value=True, required=True)
    at = _Time(required=True)
    message_at = _Time(required=True)
    body = _Str(required=True)


class ReportQueue(ma.Schema):
    reports = ma.fields.List(ma.fields.Nested(QueuedReport), required=True)


class ReportSummary(ma.Schema):
    report_id = _Str(required=True)
    category = ma.fields.Enum(Category, by_value=True, required=True)
    verification = ma.fields.Enum(Verification, by_value=True, required=True)
    status = _Str(required=True)
    at = _Time(required=True)


class AccountSanction(ma.Schema):
    action = ma.fields.Enum(ModeratorAction, by_value=True, required=True)
    reason = ma.fields.Enum(Reason, by_value=True, required=True)
    at = _Time(required=True)
    note = _Str(required=True)


class AccountLookupReply(ma.Schema):
    account_id = _Str(required=True)
    email = _Str(required=True)
    display_name = _Str(required=True)
    role = _Str(required=True)
    status = _Str(required=True)
    created_at = _Time(required=True)
    devices = _Int(required=True)
    sanctions = ma.fields.List(ma.fields.Nested(AccountSanction), required=True)
    reports = ma.fields.List(ma.fields.Nested(ReportSummary), required=True)


class AuditEntryReply(ma.Schema):
    seq = _Int(required=True)
    at = _Time(required=True)
    actor = _Str(required=True, allow_none=True)
    action = _Str(required=True)
    subject = _Str(required=True, allow_none=True)
    details = ma.fields.Dict(keys=_Str(), values=ma.fields.Raw(), required=True)


class AuditPage(ma.Schema):
    entries = ma.fields.List(ma.fields.Nested(AuditEntryReply), required=True)
    before = _Int()  # present when an older page follows


class BrokenLinkReply(ma.Schema):
    seq = _Int(required=True)
    reason = _Str(required=True)


class AuditVerification(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    entries = _Int(required=True)
    broken = ma.fields.Nested(BrokenLinkReply)


class JobReply(ma.Schema):
    job_id = _Str(required=True)
    kind = _Str(required=True)
    state = _Str(required=True)
    attempts = _Int(required=True)
    max_attempts = _Int(required=True)
    error = _Str(required=True, allow_none=True)
    created_at = _Time(required=True)
    updated_at = _Time(required=True)


class JobList(ma.Schema):
    jobs = ma.fields.List(ma.fields.Nested(JobReply), required=True)


class StatusReply(ma.Schema):
    status = _Str(required=True)


class ReadinessChecks(ma.Schema):
    mongodb = _Str(required=True)
    fanout = _Str(required=True)


class Readiness(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["ready", "unavailable"]))
    checks = ma.fields.Nested(ReadinessChecks, required=True)


class VerifiedAccount(ma.Schema):
    account_id = _Str(required=True)
    status = _Str(required=True)


class ErasureView(ma.Schema):
    """A pending GDPR erasure (docs/gdpr.md), or ``{"pending": false}``."""

    pending = ma.fields.Boolean(required=True)
    requested_at = _Time()
    erase_after = _Time()


class Session(ma.Schema):
    token = _Str(required=True)
    account_id = _Str(required=True)
    role = ma.fields.Enum(Role, by_value=True, required=True)
    expires_at = _Time(required=True)
    # Shown at login so the owner can still cancel a pending erasure.
    erasure = ma.fields.Nested(ErasureView, required=True)


class RegistrationReply(ma.Schema):
    scheme = _Str(required=True)
    number = _Str(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["verified", "unverified"]))


class AvailabilityReply(ma.Schema):
    accepting_requests = ma.fields.Boolean(required=True)
    away_message = _Str(required=True, allow_none=True)


class Profile(ma.Schema):
    account_id = _Str(required=True)
    role = ma.fields.Enum(Role, by_value=True, required=True)
    display_name = _Str(required=True)
    registration = ma.fields.Nested(RegistrationReply)
    email = _Str(required=True)
    totp_enabled = ma.fields.Boolean(required=True)
    root_key = _Str(required=True, allow_none=True)
    erasure = ma.fields.Nested(ErasureView, required=True)
    # A practitioner's own availability, so their inbox shows what they last saved.
    availability = ma.fields.Nested(AvailabilityReply)


class NotificationPreferencesReply(ma.Schema):
    email = ma.fields.Boolean(required=True)
    sms = ma.fields.Boolean(required=True)


class TotpSetup(ma.Schema):
    secret = _Str(required=True)
    uri = _Str(required=True)


class Ticket(ma.Schema):
    ticket = _Str(required=True)
    expires_at = _Time(required=True)


class DeviceReply(ma.Schema):
    device_id = _Str(required=True)
    account_id = _Str(required=True)
    enc_key = _Str(required=True)
    sign_key = _Str(required=True)
    certificate = _Str(required=True)
    created_at = _Time(required=True)


class DeviceListing(ma.Schema):
    account_id = _Str(required=True)
    root_key = _Str(required=True, allow_none=True)
    devices = ma.fields.List(ma.fields.Nested(DeviceReply), required=True)


class KeyLogEntry(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE  # each event names its own fields (device_id, root_key, ...)

    account_id = _Str(required=True)
    seq = _Int(required=True)
    at = _Time(required=True)
    event = _Str(required=True)


class KeyLog(ma.Schema):
    entries = ma.fields.List(ma.fields.Nested(KeyLogEntry), required=True)


class MemberInvitationReply(ma.Schema):
    account_id = _Str(required=True)
    role = _Str(required=True)
    accepted = ma.fields.Boolean(required=True)


class OfferedRoleReply(ma.Schema):
    role = _Str(required=True)
    accepted = ma.fields.Boolean(required=True)


class PracticePersonReply(ma.Schema):
    account_id = _Str(required=True)
    display_name = _Str(required=True, allow_none=True)
    role = _Str(required=True, allow_none=True)
    invitation = ma.fields.Nested(OfferedRoleReply, required=True, allow_none=True)


class PracticePeople(ma.Schema):
    people = ma.fields.List(ma.fields.Nested(PracticePersonReply), required=True)


class PracticeReply(ma.Schema):
    practice_id = _Str(required=True)
    name = _Str(required=True)
    admin = _Str(required=True)
    practitioners = ma.fields.List(_Str(), required=True)
    staff = ma.fields.List(_Str(), required=True)
    membership_epoch = _Int(required=True)
    invitations = ma.fields.List(ma.fields.Nested(MemberInvitationReply))


class OwnPracticeReply(ma.Schema):
    practice_id = _Str(required=True)
    name = _Str(required=True)
    roles = ma.fields.List(
        _Str(validate=ma.validate.OneOf(["admin", "practitioner", "staff"])), required=True
    )


class OwnPractices(ma.Schema):
    practices = ma.fields.List(ma.fields.Nested(OwnPracticeReply), required=True)


class MembershipReply(ma.Schema):
    practice_id = _Str(required=True)
    admin = _Str(required=True)
    epoch = _Int(required=True)
    membership = _Str(required=True, allow_none=True)


class PracticeInvitationReply(ma.Schema):
    practice_id = _Str(required=True)
    name = _Str(required=True)
    admin = _Str(required=True)
    role = _Str(required=True)
    accepted = ma.fields.Boolean(required=True)


class PracticeInvitations(ma.Schema):
    invitations = ma.fields.List(ma.fields.Nested(PracticeInvitationReply), required=True)


class ProviderReply(ma.Schema):
    kind = ma.fields.Enum(ProviderKind, by_value=True, required=True)
    id = _Str(required=True)


class CareLinkReply(ma.Schema):
    care_link_id = _Str(required=True)
    patient_id = _Str(required=True)
    provider = ma.fields.Nested(ProviderReply, required=True)
    status = ma.fields.Enum(LinkStatus, by_value=True, required=True)
    created_via = _Str(required=True)
    created_at = _Time(required=True)
    # In a provider's list only: the patient's display name.
    patient_name = _Str(allow_none=True)


class CareLinks(ma.Schema):
    care_links = ma.fields.List(ma.fields.Nested(CareLinkReply), required=True)


class ThreadMember(ma.Schema):
    account_id = _Str(required=True)
    display_name = _Str(required=True, allow_none=True)
    role = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["patient", "practitioner", "staff", "member"])
    )


class ThreadReply(ma.Schema):
    thread_id = _Str(required=True)
    # Only care threads are served yet; the other kinds join the API with their issues.
    kind = _Str(required=True, validate=ma.validate.OneOf([str(ThreadKind.CARE)]))
    state = ma.fields.Enum(ThreadState, by_value=True, required=True)
    patient_id = _Str(required=True)
    provider = ma.fields.Nested(ProviderReply, required=True)
    participants = ma.fields.List(_Str(), required=True)
    members = ma.fields.List(ma.fields.Nested(ThreadMember), required=True)
    last_seq = _Int(required=True)
    created_at = _Time(required=True)
    last_message_at = _Time(required=True, allow_none=True)
    notice = _Str(required=True)
    unread = _Int()
    away_message = _Str(allow_none=True)
    # The patient's signed thread opening (base64url), when the thread has one.
    opening = _Str()


class Threads(ma.Schema):
    threads = ma.fields.List(ma.fields.Nested(ThreadReply), required=True)


class Sender(ma.Schema):
    account = _Str(required=True)
    device = _Str(required=True)


class MessageReply(ma.Schema):
    type = ma.fields.String(required=True, validate=ma.validate.Equal("msg"))
    thread = _Str(required=True)
    seq = _Int(required=True)
    client_msg_id = _Str(required=True)
    sender = ma.fields.Nested(Sender, required=True)
    kind = _Str(required=True)
    envelope = _Str(required=True)
    at = _Time(required=True)


class History(ma.Schema):
    messages = ma.fields.List(ma.fields.Nested(MessageReply), required=True)
    next_after = _Int(allow_none=True)
    next_before = _Int(allow_none=True)


class AttachmentStored(ma.Schema):
    attachment_id = _Str(required=True)
    size = _Int(required=True)


class GroupReply(ma.Schema):
    group_id = _Str(required=True)
    admin_account = _Str(required=True)
    created_at = _Time(required=True)


class EpochStored(ma.Schema):
    group_id = _Str(required=True)
    epoch = _Int(required=True)
    digest = _Str(required=True)


class EpochReply(ma.Schema):
    group_id = _Str(required=True)
    epoch = _Int(required=True)
    commit = _Str(required=True)


# -- the GP panel ---------------------------------------------------------------------------


class PanelSettingsReply(ma.Schema):
    capacity = _Int(required=True)
    capacity_overrides = ma.fields.Dict(keys=_Str(), values=_Int(), required=True)
    lease_seconds = _Int(required=True)
    max_wait_minutes = _Int(required=True)
    follow_up_hours = _Int(required=True)
    daily_free_questions = _Int(required=True)


class PanelReply(ma.Schema):
    panel_id = _Str(required=True)
    name = _Str(required=True)
    admin_account = _Str(required=True)
    settings = ma.fields.Nested(PanelSettingsReply, required=True)
    notice = _Str(required=True)


class Panels(ma.Schema):
    panels = ma.fields.List(ma.fields.Nested(PanelReply), required=True)


class PanelMemberReply(ma.Schema):
    account_id = _Str(required=True)
    display_name = _Str(required=True)
    online = ma.fields.Boolean(required=True)


class PanelMembers(ma.Schema):
    members = ma.fields.List(ma.fields.Nested(PanelMemberReply), required=True)


class PanelOnline(ma.Schema):
    online_until = _Time(required=True)


class PanelStatsReply(ma.Schema):
    panel_id = _Str(required=True)
    queued = _Int(required=True)
    oldest_wait_seconds = ma.fields.Float(required=True, allow_none=True)
    answered_per_hour = ma.fields.Float(required=True)
    gps_online = _Int(required=True)
    rating_average = ma.fields.Float(required=True, allow_none=True)
    rating_count = _Int(required=True)


class PanelRatingReply(ma.Schema):
    question_id = _Str(required=True)
    patient_id = _Str(required=True)
    score = _Int(required=True)
    at = _Time(required=True)
    comment = _Str(required=True, allow_none=True)


class PanelRatings(ma.Schema):
    ratings = ma.fields.List(ma.fields.Nested(PanelRatingReply), required=True)


class PaidOfferReply(ma.Schema):
    price_cents = _Int(required=True)
    currency = _Str(required=True)
    panel_id = _Str()  # an offer's: the panel its paid chat goes to, when configured


class QueueItemReply(ma.Schema):
    question_id = _Str(required=True)
    panel_id = _Str(required=True)
    patient_id = _Str(required=True)
    state = _Str(
        required=True,
        validate=ma.validate.OneOf(["queued", "claimed", "parked", "answered", "closed"]),
    )
    queued_at = _Time(required=True)
    overdue = ma.fields.Boolean(required=True)
    # A paid chat's question: answering it captures the patient's payment.
    paid = ma.fields.Boolean(required=True)
    claimed_by = _Str()
    offered_to = _Str()
    answered_by = _Str()
    outcome = _Str(validate=ma.validate.OneOf(["answered", "withdrawn", "booking", "paid_offer"]))
    lease_until = _Time()
    closes_at = _Time()
    offer = ma.fields.Nested(PaidOfferReply)


class PanelQueue(ma.Schema):
    queued = ma.fields.List(ma.fields.Nested(QueueItemReply), required=True)
    mine = ma.fields.List(ma.fields.Nested(QueueItemReply), required=True)
    paid_chat_price = ma.fields.Nested(PaidOfferReply, required=True)


class QuestionStatusReply(QueueItemReply):
    position = _Int(required=True, allow_none=True)
    estimate_seconds = ma.fields.Float(required=True, allow_none=True)
    gps_online = _Int(required=True)


class Asked(QuestionStatusReply):
    duplicate = ma.fields.Boolean(required=True)


class QuestionMessages(ma.Schema):
    messages = ma.fields.List(ma.fields.Nested(MessageReply), required=True)


class Posted(ma.Schema):
    seq = _Int(required=True)
    duplicate = ma.fields.Boolean(required=True)


class LeaseReply(ma.Schema):
    lease_until = _Time(required=True)


class PaidChatReply(ma.Schema):
    """A paid chat: states, integer cents, times; never content, never card data."""

    thread_id = _Str(required=True)
    panel_id = _Str(required=True)
    state = _Str(
        required=True,
        validate=ma.validate.OneOf(
            ["pending_payment", "queued", "claimed", "answered", "closed", "refunded"]
        ),
    )
    amount_cents = _Int(required=True)
    currency = _Str(required=True)
    charged_cents = _Int(required=True)
    payment = ma.fields.List(_Str(), required=True)
    created_at = _Time(required=True)
    checkout_url = _Str()
    answered_by = _Str()
    closed_reason = _Str(
        validate=ma.validate.OneOf(
            [
                "unpaid",
                "unanswered",
                "window_ended",
                "closed_early",
                "checkout_failed",
                "cancelled",
            ]
        )
    )
    checkout_expires_at = _Time()
    queued_at = _Time()
    sla_due_at = _Time()
    window_starts_at = _Time()
    window_ends_at = _Time()
    closed_at = _Time()


class Payments(ma.Schema):
    payments = ma.fields.List(ma.fields.Nested(PaidChatReply), required=True)


class PaidChatTermsReply(ma.Schema):
    """What a paid chat started now costs and how long its phases last."""

    price_cents = _Int(required=True)
    currency = _Str(required=True)
    window_seconds = _Int(required=True)
    sla_seconds = _Int(required=True)


class Payouts(ma.Schema):
    payouts = ma.fields.List(ma.fields.Nested(PaidChatReply), required=True)


class MismatchReply(ma.Schema):
    thread_id = _Str(required=True, allow_none=True)
    problem = _Str(required=True)


class ReconciliationReply(ma.Schema):
    """A UTC day of paid chats against Stripe's events, in integer cents."""

    day = _Str(required=True)
    captured_cents = _Int(required=True)
    charged_cents = _Int(required=True)
    cancelled = _Int(required=True)
    refunded_cents = _Int(required=True)
    refunds_pending = _Int(required=True)
    disputed = ma.fields.List(_Str(), required=True)
    mismatches = ma.fields.List(ma.fields.Nested(MismatchReply), required=True)


# -- prevention mailings (rest/mailings.py) -----------------------------------------


class CampaignReply(ma.Schema):
    campaign_id = _Str(required=True)
    practice_id = _Str(required=True)
    created_by = _Str(required=True)
    state = _Str(required=True)
    send_at = _Time(required=True, allow_none=True)
    pause_reason = _Str(required=True, allow_none=True)
    created_at = _Time(required=True)
    note = _Str(required=True, allow_none=True)


class CampaignProgress(ma.Schema):
    recipients = _Int(required=True)
    delivered = _Int(required=True)
    read = _Int(required=True)
    opted_out = _Int(required=True)
    no_care_link = _Int(required=True)
    failed = _Int(required=True)
    mail_sent = _Int(required=True)
    mail_retries = _Int(required=True)


class CampaignWithProgress(CampaignReply):
    progress = ma.fields.Nested(CampaignProgress, required=True)


class Campaigns(ma.Schema):
    campaigns = ma.fields.List(ma.fields.Nested(CampaignReply), required=True)


class RecipientCount(ma.Schema):
    recipients = _Int(required=True)


class RejectedRow(ma.Schema):
    line = _Int(required=True)
    reason = _Str(required=True)


class RosterImported(ma.Schema):
    imported = _Int(required=True)
    updated = _Int(required=True)
    rejected = ma.fields.List(ma.fields.Nested(RejectedRow), required=True)


class RosterRowReply(ma.Schema):
    row_id = _Str(required=True)
    line = _Int(required=True)
    email = _Str(required=True)
    language = _Str(required=True)
    labels = _Str(required=True)
    group = _Str(required=True)
    epoch = _Int(required=True)
    account_id = _Str(required=True, allow_none=True)


class Roster(ma.Schema):
    rows = ma.fields.List(ma.fields.Nested(RosterRowReply), required=True)


class AnnouncementReply(ma.Schema):
    campaign_id = _Str(required=True)
    practice_id = _Str(required=True)
    body = _Str(required=True)
    slips = ma.fields.List(_Str(), required=True)
    delivered_at = _Time(required=True)
    read = ma.fields.Boolean(required=True)


class AnnouncementList(ma.Schema):
    announcements = ma.fields.List(ma.fields.Nested(AnnouncementReply), required=True)
