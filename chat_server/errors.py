"""Errors as data: every situation a client can cause has a stable code and one class.

::

    ChatError                      code, HTTP status, WebSocket behaviour, safe detail
     ├── BadRequest                failed schema (``validation_failed``)
     │    ├── MalformedJson, MalformedFrame, UnknownFrameType, UnsupportedMediaType,
     │    │   EmptyUpload, UnknownAttachment
     │    ├── WeakPassword, PhoneCodeRequired, CannotBlockSelf
     │    ├── MalformedHttp, OctetStreamExpected
     │    └── WebhookSignatureInvalid  a Stripe webhook that does not verify
     ├── Unauthenticated           no/expired session (closes a socket with 4001)
     │    └── InvalidCredentials, TotpRequired, TotpEnrolmentOverdue, InvalidTicket,
     │         InvalidSocketProof
     ├── InvalidCode, InvalidSignature, InvalidEnvelope    a code, signature or
     │                             envelope that does not hold
     ├── InvalidThreadOpening      a patient's thread opening that does not hold
     ├── InvalidBroadcast          a mailing body or slip that does not hold
     ├── OfferPriceNotConfigured   a paid-chat offer at another than the set price
     ├── RecipientsChanged, ThreadClosed                   409s of sending
     ├── MemberRoleNotAllowed      a practice role this account can never hold
     ├── Forbidden                 authenticated but not allowed (never used for
     │    │                        objects: see NotFound)
     │    └── AccountSuspended, OriginNotAllowed, DeviceRequired, DeviceRevoked,
     │        PatientsOnly, PractitionersOnly, SenderNotInEpoch, AccountBlocked,
     │        ConsentRequired
     ├── NotFound                  absent *or* not yours: one answer, no oracle
     ├── MethodNotAllowed
     ├── Conflict                  abstract: never raised itself, one subclass and
     │    │                        code per situation the state does not allow
     │    ├── TotpAlreadyEnabled, TotpSetupNotStarted
     │    ├── NotAcceptingRequests, RequestCooldown, ThreadAlreadyOpen,
     │    │   ThreadIdTaken, ThreadTransitionNotAllowed, DuplicateClientMsgId
     │    ├── RootKeyRequired, DeviceLimitReached, DeviceIdTaken
     │    ├── GroupIdTaken, EpochAlreadyCommitted
     │    ├── CampaignIdTaken, CampaignTransitionNotAllowed,
     │    │   CampaignRecipientsFrozen, CampaignHasNoRecipients
     │    ├── CareLinkAlreadyAnswered, CareLinkNotLive, CareLinkExists,
     │    │   LinkRequestPending
     │    ├── AccountAlreadySuspended, AccountNotSuspended, ReportAlreadyFiled,
     │    │   ConsentTextOutdated, ReportAlreadyDecided, JobNotFailed
     │    ├── ErasureAlreadyRequested, ErasureNotRequested  GDPR erasure
     │    ├── RegistrationNotVerified, MemberNotConsented, MembershipEpochTaken,
     │    │   MemberOnSignedList
     │    ├── PanelIdTaken, PanelEpochRoute, StaleGroupEpoch, NotOnline, AtCapacity,
     │    │   NothingToClaim, QuestionNotHeld, ColleagueNotAvailable,
     │    │   DailyQuestionCapReached, AlreadyRated        the GP panel
     │    ├── PaidChatNotClosable                          paid chats
     │    ├── PaidChatNotCancellable                       paid chats
     │    └── HelloAlreadySent
     ├── TooLarge                  body or frame over its limit
     │    └── UploadQuotaExceeded  an account's attachment storage is full
     ├── RateLimited               slow down, with Retry-After
     │    ├── UploadRateLimited    attachment uploads, per account
     │    ├── TooManyPendingSockets  unauthenticated sockets, per address
     │    └── SocketRateLimited    a socket closed for flooding (4029), and its
     │                             reconnects until the bar ends
     └── Unavailable               a dependency (MongoDB, Redis) is down
          ├── WebClientNotBuilt    the browser bundles were never built
          └── PaymentsNotConfigured, PaymentProviderUnavailable   paid chats

Handlers raise these; translation to ``application/problem+json`` happens only in
``rest/problems.py`` and to error frames/close codes only in ``ws/``. ``detail`` is
shown to the client and must never contain patient data; ``log_detail`` is for
operators and still never holds bodies, tokens or ciphertext. The table of codes in
docs/protocol.md and in the OpenAPI document is made from these classes
(``chat_server/error_codes.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import ClassVar


class ErrorCode(StrEnum):
    MALFORMED_JSON = "malformed_json"
    VALIDATION_FAILED = "validation_failed"
    MALFORMED_FRAME = "malformed_frame"
    UNKNOWN_FRAME_TYPE = "unknown_frame_type"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    OCTET_STREAM_EXPECTED = "octet_stream_expected"
    MALFORMED_HTTP = "malformed_http"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOTP_REQUIRED = "totp_required"
    TOTP_ENROLMENT_OVERDUE = "totp_enrolment_overdue"
    ACCOUNT_SUSPENDED = "account_suspended"
    INVALID_TICKET = "invalid_ticket"
    INVALID_SOCKET_PROOF = "invalid_socket_proof"
    INVALID_CODE = "invalid_code"
    WEAK_PASSWORD = "weak_password"  # noqa: S105 - an error code, not a password
    PHONE_CODE_REQUIRED = "phone_code_required"
    LINK_REQUEST_PENDING = "link_request_pending"
    INVALID_SIGNATURE = "invalid_signature"
    INVALID_ENVELOPE = "invalid_envelope"
    RECIPIENTS_CHANGED = "recipients_changed"
    THREAD_CLOSED = "thread_closed"
    MEMBER_ROLE_NOT_ALLOWED = "member_role_not_allowed"
    REGISTRATION_NOT_VERIFIED = "registration_not_verified"
    MEMBER_NOT_CONSENTED = "member_not_consented"
    MEMBERSHIP_EPOCH_TAKEN = "membership_epoch_taken"
    MEMBER_ON_SIGNED_LIST = "member_on_signed_list"
    FORBIDDEN = "forbidden"
    PATIENTS_ONLY = "patients_only"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "too_large"
    EMPTY_UPLOAD = "empty_upload"
    UPLOAD_QUOTA_EXCEEDED = "upload_quota_exceeded"
    UNKNOWN_ATTACHMENT = "unknown_attachment"
    RATE_LIMITED = "rate_limited"
    UPLOAD_RATE_LIMITED = "upload_rate_limited"
    TOO_MANY_PENDING_SOCKETS = "too_many_pending_sockets"
    SOCKET_RATE_LIMITED = "socket_rate_limited"
    UNAVAILABLE = "unavailable"
    WEB_CLIENT_NOT_BUILT = "web_client_not_built"
    INTERNAL = "internal_error"
    # One per situation that used to answer a bare "conflict" (409).
    TOTP_ALREADY_ENABLED = "totp_already_enabled"
    TOTP_SETUP_NOT_STARTED = "totp_setup_not_started"
    NOT_ACCEPTING_REQUESTS = "not_accepting_requests"
    REQUEST_COOLDOWN = "request_cooldown"
    THREAD_ALREADY_OPEN = "thread_already_open"
    THREAD_ID_TAKEN = "thread_id_taken"
    INVALID_THREAD_OPENING = "invalid_thread_opening"
    THREAD_TRANSITION_NOT_ALLOWED = "thread_transition_not_allowed"
    DUPLICATE_CLIENT_MSG_ID = "duplicate_client_msg_id"
    ROOT_KEY_REQUIRED = "root_key_required"
    DEVICE_LIMIT_REACHED = "device_limit_reached"
    DEVICE_ID_TAKEN = "device_id_taken"
    GROUP_ID_TAKEN = "group_id_taken"
    EPOCH_ALREADY_COMMITTED = "epoch_already_committed"
    CARE_LINK_ALREADY_ANSWERED = "care_link_already_answered"
    CARE_LINK_NOT_LIVE = "care_link_not_live"
    CARE_LINK_EXISTS = "care_link_exists"
    HELLO_ALREADY_SENT = "hello_already_sent"
    # Sending refused for the device, not the role (was a bare "forbidden").
    DEVICE_REQUIRED = "device_required"
    DEVICE_REVOKED = "device_revoked"
    # The GP panel (issue 15).
    PRACTITIONERS_ONLY = "practitioners_only"
    PANEL_ID_TAKEN = "panel_id_taken"
    PANEL_EPOCH_ROUTE = "panel_epoch_route"
    STALE_GROUP_EPOCH = "stale_group_epoch"
    SENDER_NOT_IN_EPOCH = "sender_not_in_epoch"
    NOT_ONLINE = "not_online"
    AT_CAPACITY = "at_capacity"
    NOTHING_TO_CLAIM = "nothing_to_claim"
    QUESTION_NOT_HELD = "question_not_held"
    COLLEAGUE_NOT_AVAILABLE = "colleague_not_available"
    OFFER_PRICE_NOT_CONFIGURED = "offer_price_not_configured"
    DAILY_QUESTION_CAP_REACHED = "daily_question_cap_reached"
    ALREADY_RATED = "already_rated"
    # Paid chats (issue 16).
    WEBHOOK_SIGNATURE_INVALID = "webhook_signature_invalid"
    PAID_CHAT_NOT_CLOSABLE = "paid_chat_not_closable"
    PAID_CHAT_NOT_CANCELLABLE = "paid_chat_not_cancellable"
    PAYMENTS_NOT_CONFIGURED = "payments_not_configured"
    PAYMENT_PROVIDER_UNAVAILABLE = "payment_provider_unavailable"
    # Moderation (issue 18).
    ACCOUNT_ALREADY_SUSPENDED = "account_already_suspended"
    ACCOUNT_NOT_SUSPENDED = "account_not_suspended"
    REPORT_ALREADY_FILED = "report_already_filed"
    REPORT_ALREADY_DECIDED = "report_already_decided"
    JOB_NOT_FAILED = "job_not_failed"
    ACCOUNT_BLOCKED = "account_blocked"
    CANNOT_BLOCK_SELF = "cannot_block_self"
    CONSENT_REQUIRED = "consent_required"
    CONSENT_TEXT_OUTDATED = "consent_text_outdated"
    # GDPR erasure (handlers/personal_data.py, docs/gdpr.md).
    ERASURE_ALREADY_REQUESTED = "erasure_already_requested"
    ERASURE_NOT_REQUESTED = "erasure_not_requested"
    # Prevention mailings (handlers/mailings.py, handlers/roster.py).
    CAMPAIGN_ID_TAKEN = "campaign_id_taken"
    CAMPAIGN_TRANSITION_NOT_ALLOWED = "campaign_transition_not_allowed"
    CAMPAIGN_RECIPIENTS_FROZEN = "campaign_recipients_frozen"
    CAMPAIGN_HAS_NO_RECIPIENTS = "campaign_has_no_recipients"
    INVALID_BROADCAST = "invalid_broadcast"


# WebSocket close codes (RFC 6455 and the private 4000-4999 range).
WS_GOING_AWAY = 1001
WS_UNSUPPORTED_DATA = 1003
WS_POLICY_VIOLATION = 1008
WS_TOO_BIG = 1009
WS_INTERNAL_ERROR = 1011
WS_TRY_AGAIN_LATER = 1013
WS_UNAUTHENTICATED = 4001
WS_SESSION_REVOKED = 4003
WS_TOO_SLOW = 4008
# A socket that kept sending past its rate limit (moderation/floods.py): the close
# reason is JSON with ``retry_after``, the seconds before a new socket is let in.
WS_RATE_LIMITED = 4029


class ChatError(Exception):
    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[HTTPStatus] = HTTPStatus.INTERNAL_SERVER_ERROR
    title: ClassVar[str] = "Internal error"
    # None: answer with an error frame and keep the socket; a number: close with it.
    ws_close: ClassVar[int | None] = None
    # True on a class that only groups situations (Conflict): it has no code of its
    # own, cannot be raised, and is not in the table of codes. Not inherited.
    abstract: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        fields: Mapping[str, list[str]] | None = None,
        log_detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        if is_abstract(type(self)):
            raise TypeError(f"{type(self).__name__} is abstract; raise the class of the situation")
        super().__init__(detail or self.title)
        self.detail = detail
        self.fields = dict(fields) if fields else None
        self.log_detail = log_detail
        self.retry_after = retry_after

    def close_reason(self) -> str:
        """The reason a socket closed with ``ws_close`` is given."""
        return self.title

    def to_dict(self) -> dict[str, object]:
        """The client-visible body shared by HTTP problems and WS error frames."""
        body: dict[str, object] = {"code": str(self.code), "title": self.title}
        if self.detail:
            body["detail"] = self.detail
        if self.fields:
            body["fields"] = self.fields
        if self.retry_after is not None:
            body["retry_after"] = round(self.retry_after, 3)
        return body


def is_abstract(cls: type[ChatError]) -> bool:
    """Declared by the class itself: a subclass of an abstract class is concrete."""
    return bool(cls.__dict__.get("abstract", False))


class BadRequest(ChatError):
    code = ErrorCode.VALIDATION_FAILED
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "The request does not match its schema"


class MalformedJson(BadRequest):
    code = ErrorCode.MALFORMED_JSON
    http_status = HTTPStatus.BAD_REQUEST
    title = "The body is not a JSON object"


class MalformedFrame(BadRequest):
    code = ErrorCode.MALFORMED_FRAME
    title = "The frame is not a JSON object of the protocol"


class UnknownFrameType(BadRequest):
    code = ErrorCode.UNKNOWN_FRAME_TYPE
    title = "Unknown frame type"


class UnsupportedMediaType(BadRequest):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    http_status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    title = "Send application/json"


class OctetStreamExpected(UnsupportedMediaType):
    code = ErrorCode.OCTET_STREAM_EXPECTED
    title = "Send application/octet-stream"


class MalformedHttp(BadRequest):
    """aiohttp's parser refused the request line or a header (too long, not HTTP)."""

    code = ErrorCode.MALFORMED_HTTP
    http_status = HTTPStatus.BAD_REQUEST
    title = "The request line or a header is malformed or too long"


class Unauthenticated(ChatError):
    code = ErrorCode.UNAUTHENTICATED
    http_status = HTTPStatus.UNAUTHORIZED
    title = "Authentication required"
    ws_close = WS_UNAUTHENTICATED


class InvalidCredentials(Unauthenticated):
    code = ErrorCode.INVALID_CREDENTIALS
    title = "Wrong e-mail address or password"


class TotpRequired(Unauthenticated):
    code = ErrorCode.TOTP_REQUIRED
    title = "A valid one-time code from your authenticator app is required"


class TotpEnrolmentOverdue(Unauthenticated):
    """A practitioner past the grace period after registration without TOTP set up."""

    code = ErrorCode.TOTP_ENROLMENT_OVERDUE
    title = (
        "Two-factor login is required for practitioners and was not set up in time; "
        "contact the operator"
    )


class InvalidTicket(Unauthenticated):
    code = ErrorCode.INVALID_TICKET
    title = "The ticket is unknown, expired or already used; get a new one"


class InvalidSocketProof(Unauthenticated):
    code = ErrorCode.INVALID_SOCKET_PROOF
    title = "The socket proof is not this device's signature over the ticket"


class InvalidCode(ChatError):
    code = ErrorCode.INVALID_CODE
    http_status = HTTPStatus.BAD_REQUEST
    title = "The code is unknown, expired or already used"


class WeakPassword(BadRequest):
    """The strength estimator (zxcvbn) guesses the password too easily; ``detail``
    says why, ``fields`` points at the password field."""

    code = ErrorCode.WEAK_PASSWORD
    title = "The password is too easy to guess"


class PhoneCodeRequired(BadRequest):
    """An SMS invitation binds only once the phone's holder types the texted code."""

    code = ErrorCode.PHONE_CODE_REQUIRED
    http_status = HTTPStatus.BAD_REQUEST
    title = "Ask for a phone code, then accept with the code texted to the invited number"


class InvalidSignature(ChatError):
    code = ErrorCode.INVALID_SIGNATURE
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "A signature does not verify"


class InvalidBroadcast(ChatError):
    code = ErrorCode.INVALID_BROADCAST
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "The mailing body or a slip is malformed or belongs to another campaign"


class InvalidEnvelope(ChatError):
    code = ErrorCode.INVALID_ENVELOPE
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "The envelope is malformed, misaddressed or not signed by the sending device"


class InvalidThreadOpening(ChatError):
    code = ErrorCode.INVALID_THREAD_OPENING
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "The thread opening is malformed, names other parties or is not the patient's"


class RecipientsChanged(ChatError):
    """The envelope's recipients are not the thread's current devices: re-encrypt."""

    code = ErrorCode.RECIPIENTS_CHANGED
    http_status = HTTPStatus.CONFLICT
    title = "The participants' devices changed; fetch them and encrypt again"

    def __init__(self, detail: str | None = None, *, devices: list[tuple[str, str]]) -> None:
        super().__init__(detail)
        self.devices = devices

    def to_dict(self) -> dict[str, object]:
        return {
            **super().to_dict(),
            "devices": [{"account_id": a, "device_id": d} for a, d in self.devices],
        }


class ThreadClosed(ChatError):
    code = ErrorCode.THREAD_CLOSED
    http_status = HTTPStatus.CONFLICT
    title = "The thread does not accept this message in its current state"


class MemberRoleNotAllowed(ChatError):
    """A patient is never practice staff; only practitioner accounts are practitioners."""

    code = ErrorCode.MEMBER_ROLE_NOT_ALLOWED
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "This account cannot hold that role in a practice"


class Forbidden(ChatError):
    code = ErrorCode.FORBIDDEN
    http_status = HTTPStatus.FORBIDDEN
    title = "Not allowed"


class AccountSuspended(Forbidden):
    """Login refused: the body's ``suspension`` tells the person why (a reason code and
    the moderator's note to them) and how to appeal. Only ever shown to the person who
    has just proved they own the account (right password)."""

    code = ErrorCode.ACCOUNT_SUSPENDED
    title = "This account is suspended"
    ws_close = WS_SESSION_REVOKED

    def __init__(self, *, suspension: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.suspension = dict(suspension) if suspension else None

    def to_dict(self) -> dict[str, object]:
        body = super().to_dict()
        if self.suspension:
            body["suspension"] = self.suspension
        return body


class AccountBlocked(Forbidden):
    """One of the two accounts has blocked the other: no thread request, no send."""

    code = ErrorCode.ACCOUNT_BLOCKED
    title = "One of you has blocked the other"


class ConsentRequired(Forbidden):
    """The patient has not consented (to the current text) to what this would do."""

    code = ErrorCode.CONSENT_REQUIRED
    title = "The patient has not consented to this"


class CannotBlockSelf(BadRequest):
    code = ErrorCode.CANNOT_BLOCK_SELF
    title = "An account cannot block itself"


class PatientsOnly(Forbidden):
    """Invitations are accepted, and links requested, by patients."""

    code = ErrorCode.PATIENTS_ONLY
    title = "Only patients can do this"


class OriginNotAllowed(Forbidden):
    code = ErrorCode.ORIGIN_NOT_ALLOWED
    title = "Origin not allowed"


class DeviceRequired(Forbidden):
    code = ErrorCode.DEVICE_REQUIRED
    title = "Sending needs a registered device: get a ticket with its device_id"


class DeviceRevoked(Forbidden):
    code = ErrorCode.DEVICE_REVOKED
    title = "This device is revoked"


class PractitionersOnly(Forbidden):
    """Panels are set up and answered by practitioners."""

    code = ErrorCode.PRACTITIONERS_ONLY
    title = "Only practitioners can do this"


class SenderNotInEpoch(Forbidden):
    """A group envelope from a device that is not a member of the epoch it names."""

    code = ErrorCode.SENDER_NOT_IN_EPOCH
    title = "The sending device is not a member of the group epoch the envelope names"


class NotFound(ChatError):
    code = ErrorCode.NOT_FOUND
    http_status = HTTPStatus.NOT_FOUND
    title = "Not found"


class MethodNotAllowed(ChatError):
    code = ErrorCode.METHOD_NOT_ALLOWED
    http_status = HTTPStatus.METHOD_NOT_ALLOWED
    title = "Method not allowed"


class Conflict(ChatError):
    """409s: the state does not allow it. Abstract, so that each situation has a code."""

    http_status = HTTPStatus.CONFLICT
    title = "Conflicts with the current state"
    abstract = True


class TotpAlreadyEnabled(Conflict):
    code = ErrorCode.TOTP_ALREADY_ENABLED
    title = "Two-factor login is already on"


class TotpSetupNotStarted(Conflict):
    code = ErrorCode.TOTP_SETUP_NOT_STARTED
    title = "Start two-factor set-up first"


class NotAcceptingRequests(Conflict):
    code = ErrorCode.NOT_ACCEPTING_REQUESTS
    title = "This practitioner is not accepting new requests"


class RequestCooldown(Conflict):
    code = ErrorCode.REQUEST_COOLDOWN
    title = "A recent request was declined; try again later"


class ThreadAlreadyOpen(Conflict):
    code = ErrorCode.THREAD_ALREADY_OPEN
    title = "A thread with this provider is already open"


class ThreadIdTaken(Conflict):
    code = ErrorCode.THREAD_ID_TAKEN
    title = "That thread id is taken; sign an opening with another"


class ThreadTransitionNotAllowed(Conflict):
    code = ErrorCode.THREAD_TRANSITION_NOT_ALLOWED
    title = "The thread's current state does not allow this change"


class DuplicateClientMsgId(Conflict):
    code = ErrorCode.DUPLICATE_CLIENT_MSG_ID
    title = "This client_msg_id was used for another message"


class RootKeyRequired(Conflict):
    code = ErrorCode.ROOT_KEY_REQUIRED
    title = "Publish the account's root key first"


class DeviceLimitReached(Conflict):
    code = ErrorCode.DEVICE_LIMIT_REACHED
    title = "Too many active devices; revoke one first"


class DeviceIdTaken(Conflict):
    code = ErrorCode.DEVICE_ID_TAKEN
    title = "That device id is taken; pick another"


class GroupIdTaken(Conflict):
    code = ErrorCode.GROUP_ID_TAKEN
    title = "That group id is taken; pick another"


class EpochAlreadyCommitted(Conflict):
    code = ErrorCode.EPOCH_ALREADY_COMMITTED
    title = "This epoch is already committed; fetch the latest and retry"


class PanelIdTaken(Conflict):
    code = ErrorCode.PANEL_ID_TAKEN
    title = "That panel id (or a group with it) is taken; pick another"


class PanelEpochRoute(Conflict):
    """A panel's epochs also release removed GPs' claims and tell their sockets, so
    they go through the panel, never the bare group route."""

    code = ErrorCode.PANEL_EPOCH_ROUTE
    title = "This group is a panel: commit its epochs at /api/v1/panels/{panel_id}/epochs"


class StaleGroupEpoch(Conflict):
    code = ErrorCode.STALE_GROUP_EPOCH
    title = (
        "The envelope is encrypted to an old epoch of the group; fetch the latest and encrypt again"
    )


class NotOnline(Conflict):
    code = ErrorCode.NOT_ONLINE
    title = "Mark yourself online for this panel first; only online GPs are offered questions"


class AtCapacity(Conflict):
    code = ErrorCode.AT_CAPACITY
    title = "You already hold as many open questions as this panel allows"


class NothingToClaim(Conflict):
    code = ErrorCode.NOTHING_TO_CLAIM
    title = "No question is waiting (or the one chosen was taken)"


class QuestionNotHeld(Conflict):
    """The lease ran out and the question went back, or someone else holds it."""

    code = ErrorCode.QUESTION_NOT_HELD
    title = "You do not hold this question (any more)"


class ColleagueNotAvailable(Conflict):
    code = ErrorCode.COLLEAGUE_NOT_AVAILABLE
    title = "That colleague is not an online member of this panel"


class OfferPriceNotConfigured(ChatError):
    """A paid-chat offer quotes what the patient would pay: the configured price."""

    code = ErrorCode.OFFER_PRICE_NOT_CONFIGURED
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "A paid-chat offer's price is the configured paid-chat price"


class DailyQuestionCapReached(Conflict):
    code = ErrorCode.DAILY_QUESTION_CAP_REACHED
    title = "You have asked today's free questions for this panel; try again tomorrow"


class AlreadyRated(Conflict):
    code = ErrorCode.ALREADY_RATED
    title = "This answer was already rated"


class PaidChatNotClosable(Conflict):
    code = ErrorCode.PAID_CHAT_NOT_CLOSABLE
    title = "Only the answering practitioner closes a paid chat, while its window is open"


class PaidChatNotCancellable(Conflict):
    code = ErrorCode.PAID_CHAT_NOT_CANCELLABLE
    title = "A paid chat is cancelled only while its payment is being prepared"


class CampaignIdTaken(Conflict):
    code = ErrorCode.CAMPAIGN_ID_TAKEN
    title = "That campaign id is taken; seal the body with another"


class CampaignTransitionNotAllowed(Conflict):
    code = ErrorCode.CAMPAIGN_TRANSITION_NOT_ALLOWED
    title = "The campaign's current state does not allow this change"


class CampaignRecipientsFrozen(Conflict):
    code = ErrorCode.CAMPAIGN_RECIPIENTS_FROZEN
    title = "Recipients change only while the campaign is a draft"


class CampaignHasNoRecipients(Conflict):
    code = ErrorCode.CAMPAIGN_HAS_NO_RECIPIENTS
    title = "Add recipients before scheduling the campaign"


class CareLinkAlreadyAnswered(Conflict):
    code = ErrorCode.CARE_LINK_ALREADY_ANSWERED
    title = "The link request was already answered"


class CareLinkNotLive(Conflict):
    code = ErrorCode.CARE_LINK_NOT_LIVE
    title = "The care link is not live"


class CareLinkExists(Conflict):
    code = ErrorCode.CARE_LINK_EXISTS
    title = "A care link with this provider already exists"


class RegistrationNotVerified(Conflict):
    code = ErrorCode.REGISTRATION_NOT_VERIFIED
    title = "The practitioner's professional registration is not verified yet"


class MemberNotConsented(Conflict):
    """A membership list names someone who has not accepted that role (or no longer
    may hold it): the server never stores a list with a ghost in it."""

    code = ErrorCode.MEMBER_NOT_CONSENTED
    title = "The membership list names an account that has not accepted that role"


class MembershipEpochTaken(Conflict):
    code = ErrorCode.MEMBERSHIP_EPOCH_TAKEN
    title = "That membership epoch is already published; fetch the latest and sign again"


class MemberOnSignedList(Conflict):
    """The admin withdraws an offer from someone the latest signed list names: only
    the next list, signed by the admin's root key, takes them off it."""

    code = ErrorCode.MEMBER_ON_SIGNED_LIST
    title = "This account is on the signed membership list; publish the next list without it"


class HelloAlreadySent(Conflict):
    code = ErrorCode.HELLO_ALREADY_SENT
    title = "hello was already sent on this socket"


class LinkRequestPending(Conflict):
    """An invitation never answers the patient's own pending request for the provider."""

    code = ErrorCode.LINK_REQUEST_PENDING
    title = "You already asked this provider for a link; withdraw the request first"


class AccountAlreadySuspended(Conflict):
    code = ErrorCode.ACCOUNT_ALREADY_SUSPENDED
    title = "This account is already suspended; lift the suspension first"


class AccountNotSuspended(Conflict):
    code = ErrorCode.ACCOUNT_NOT_SUSPENDED
    title = "This account is not suspended"


class ConsentTextOutdated(Conflict):
    """A consent to a text version the service no longer shows: reload and read again."""

    code = ErrorCode.CONSENT_TEXT_OUTDATED
    title = "This is not the current text of this consent; read the current one"


class ErasureAlreadyRequested(Conflict):
    """The account's erasure is already pending: the first request's date stands."""

    code = ErrorCode.ERASURE_ALREADY_REQUESTED
    title = "The erasure of this account is already requested"


class ErasureNotRequested(Conflict):
    """A cancellation with no pending erasure (never asked, cancelled, or done)."""

    code = ErrorCode.ERASURE_NOT_REQUESTED
    title = "No erasure of this account is pending"


class ReportAlreadyFiled(Conflict):
    code = ErrorCode.REPORT_ALREADY_FILED
    title = "You already reported this message"


class ReportAlreadyDecided(Conflict):
    code = ErrorCode.REPORT_ALREADY_DECIDED
    title = "This report was already resolved or dismissed"


class JobNotFailed(Conflict):
    code = ErrorCode.JOB_NOT_FAILED
    title = "Only a failed job can be retried"


class TooLarge(ChatError):
    code = ErrorCode.TOO_LARGE
    http_status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    title = "Too large"
    ws_close = WS_TOO_BIG


class UploadQuotaExceeded(TooLarge):
    code = ErrorCode.UPLOAD_QUOTA_EXCEEDED
    title = "This account's attachment storage is full"


class EmptyUpload(BadRequest):
    code = ErrorCode.EMPTY_UPLOAD
    http_status = HTTPStatus.BAD_REQUEST
    title = "An attachment has at least one byte"


class WebhookSignatureInvalid(BadRequest):
    """A webhook whose Stripe-Signature does not hold (forged, altered, too old or
    signed with an unknown secret); which one is logged, never answered."""

    code = ErrorCode.WEBHOOK_SIGNATURE_INVALID
    http_status = HTTPStatus.BAD_REQUEST
    title = "The webhook signature does not verify"


class UnknownAttachment(BadRequest):
    """A send names an attachment that is not this sender's upload to this thread
    (or was purged): the same answer for each case, so no id can be probed."""

    code = ErrorCode.UNKNOWN_ATTACHMENT
    title = "An attachment named by this message is not your upload to this thread"


class RateLimited(ChatError):
    code = ErrorCode.RATE_LIMITED
    http_status = HTTPStatus.TOO_MANY_REQUESTS
    title = "Too many requests; slow down"


class UploadRateLimited(RateLimited):
    code = ErrorCode.UPLOAD_RATE_LIMITED
    title = "Too many uploads; slow down"


class TooManyPendingSockets(RateLimited):
    """Over the per-address cap on sockets that have not sent a valid ``hello`` yet."""

    code = ErrorCode.TOO_MANY_PENDING_SOCKETS
    title = "Too many sockets from this address are waiting to authenticate"


class SocketRateLimited(RateLimited):
    """A socket kept sending past its rate limit and was closed: its session and
    device get no new socket until ``retry_after`` (moderation/floods.py)."""

    code = ErrorCode.SOCKET_RATE_LIMITED
    title = "Too many refused frames; reconnect after retry_after seconds"
    ws_close = WS_RATE_LIMITED

    def close_reason(self) -> str:
        # Data, not prose: clients read the wait from it (at most 123 bytes).
        return json.dumps({"code": str(self.code), "retry_after": round(self.retry_after or 0, 3)})


class Unavailable(ChatError):
    code = ErrorCode.UNAVAILABLE
    http_status = HTTPStatus.SERVICE_UNAVAILABLE
    title = "Temporarily unavailable; retry"
    ws_close = WS_TRY_AGAIN_LATER


class WebClientNotBuilt(Unavailable):
    """The pages' build output (``web/build.mjs``) is missing or does not hold: an
    operator's step, so the answer names it instead of failing with a 500."""

    code = ErrorCode.WEB_CLIENT_NOT_BUILT
    title = "The web client is not built; run `node web/build.mjs` (scripts/bootstrap does)"


class PaymentsNotConfigured(Unavailable):
    code = ErrorCode.PAYMENTS_NOT_CONFIGURED
    title = "Paid chats are not set up on this server"


class PaymentProviderUnavailable(Unavailable):
    """Stripe did not answer the checkout: retrying with the same thread id is safe
    (the same idempotency key reaches Stripe)."""

    code = ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE
    title = "The payment provider is unavailable; retry with the same thread id"


class StartupError(Exception):
    """Start-up cannot go on; ``str()`` is the one line printed before exiting."""
