"""Errors as data: every situation a client can cause has a stable code and one class.

::

    ChatError                      code, HTTP status, WebSocket behaviour, safe detail
     ├── BadRequest                malformed JSON, failed schema, unknown frame type
     ├── Unauthenticated           no/expired session or ticket, wrong credentials
     ├── Forbidden                 authenticated but not allowed (never used for
     │                             objects: see NotFound)
     ├── NotFound                  absent *or* not yours: one answer, no oracle
     ├── Conflict                  idempotency clash, state does not allow it
     ├── TooLarge                  body or frame over its limit
     ├── RateLimited               slow down, with Retry-After
     └── Unavailable               a dependency (MongoDB, Redis) is down

Handlers raise these; translation to ``application/problem+json`` happens only in
``rest/problems.py`` and to error frames/close codes only in ``ws/``. ``detail`` is
shown to the client and must never contain patient data; ``log_detail`` is for
operators and still never holds bodies, tokens or ciphertext.
"""

from __future__ import annotations

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
    UNAUTHENTICATED = "unauthenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOTP_REQUIRED = "totp_required"
    ACCOUNT_SUSPENDED = "account_suspended"
    INVALID_TICKET = "invalid_ticket"
    INVALID_CODE = "invalid_code"
    INVALID_SIGNATURE = "invalid_signature"
    INVALID_ENVELOPE = "invalid_envelope"
    RECIPIENTS_CHANGED = "recipients_changed"
    THREAD_CLOSED = "thread_closed"
    MEMBER_ROLE_NOT_ALLOWED = "member_role_not_allowed"
    REGISTRATION_NOT_VERIFIED = "registration_not_verified"
    MEMBER_NOT_CONSENTED = "member_not_consented"
    MEMBERSHIP_EPOCH_TAKEN = "membership_epoch_taken"
    ROOT_KEY_REQUIRED = "root_key_required"
    FORBIDDEN = "forbidden"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal_error"


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


class ChatError(Exception):
    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[HTTPStatus] = HTTPStatus.INTERNAL_SERVER_ERROR
    title: ClassVar[str] = "Internal error"
    # None: answer with an error frame and keep the socket; a number: close with it.
    ws_close: ClassVar[int | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        fields: Mapping[str, list[str]] | None = None,
        log_detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.fields = dict(fields) if fields else None
        self.log_detail = log_detail
        self.retry_after = retry_after

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


class InvalidTicket(Unauthenticated):
    code = ErrorCode.INVALID_TICKET
    title = "The ticket is unknown, expired or already used; get a new one"


class InvalidCode(ChatError):
    code = ErrorCode.INVALID_CODE
    http_status = HTTPStatus.BAD_REQUEST
    title = "The code is unknown, expired or already used"


class InvalidSignature(ChatError):
    code = ErrorCode.INVALID_SIGNATURE
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "A signature does not verify"


class InvalidEnvelope(ChatError):
    code = ErrorCode.INVALID_ENVELOPE
    http_status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "The envelope is malformed, misaddressed or not signed by the sending device"


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


class RegistrationNotVerified(ChatError):
    code = ErrorCode.REGISTRATION_NOT_VERIFIED
    http_status = HTTPStatus.CONFLICT
    title = "The practitioner's professional registration is not verified yet"


class MemberNotConsented(ChatError):
    """A membership list names someone who has not accepted that role (or no longer
    may hold it): the server never stores a list with a ghost in it."""

    code = ErrorCode.MEMBER_NOT_CONSENTED
    http_status = HTTPStatus.CONFLICT
    title = "The membership list names an account that has not accepted that role"


class MembershipEpochTaken(ChatError):
    code = ErrorCode.MEMBERSHIP_EPOCH_TAKEN
    http_status = HTTPStatus.CONFLICT
    title = "That membership epoch is already published; fetch the latest and sign again"


class RootKeyRequired(ChatError):
    code = ErrorCode.ROOT_KEY_REQUIRED
    http_status = HTTPStatus.CONFLICT
    title = "Publish the account's root key first"


class Forbidden(ChatError):
    code = ErrorCode.FORBIDDEN
    http_status = HTTPStatus.FORBIDDEN
    title = "Not allowed"


class AccountSuspended(Forbidden):
    code = ErrorCode.ACCOUNT_SUSPENDED
    title = "This account is suspended"
    ws_close = WS_SESSION_REVOKED


class OriginNotAllowed(Forbidden):
    code = ErrorCode.ORIGIN_NOT_ALLOWED
    title = "Origin not allowed"


class NotFound(ChatError):
    code = ErrorCode.NOT_FOUND
    http_status = HTTPStatus.NOT_FOUND
    title = "Not found"


class MethodNotAllowed(ChatError):
    code = ErrorCode.METHOD_NOT_ALLOWED
    http_status = HTTPStatus.METHOD_NOT_ALLOWED
    title = "Method not allowed"


class Conflict(ChatError):
    code = ErrorCode.CONFLICT
    http_status = HTTPStatus.CONFLICT
    title = "Conflicts with the current state"


class TooLarge(ChatError):
    code = ErrorCode.TOO_LARGE
    http_status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    title = "Too large"
    ws_close = WS_TOO_BIG


class RateLimited(ChatError):
    code = ErrorCode.RATE_LIMITED
    http_status = HTTPStatus.TOO_MANY_REQUESTS
    title = "Too many requests; slow down"


class Unavailable(ChatError):
    code = ErrorCode.UNAVAILABLE
    http_status = HTTPStatus.SERVICE_UNAVAILABLE
    title = "Temporarily unavailable; retry"
    ws_close = WS_TRY_AGAIN_LATER


class StartupError(Exception):
    """Start-up cannot go on; ``str()`` is the one line printed before exiting."""
