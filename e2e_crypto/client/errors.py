"""What can go wrong, as exception classes an integrator can catch precisely.

::

    CareChatSdkError                    everything this SDK raises on purpose
     ├── CareChatError                  the server refused (problem+json or WS error frame)
     │    ├── BadRequestError           400/422: the body or frame did not validate
     │    ├── AuthenticationError       401: no/expired session, wrong password, TOTP
     │    ├── ForbiddenError            403: authenticated but not allowed
     │    ├── NotFoundError             404: absent *or* not yours (the server never says)
     │    ├── ConflictError             409: state does not allow it; ``code`` says which
     │    │    └── RecipientsChanged    WS: re-encrypt to the current devices
     │    ├── TooLargeError             413
     │    ├── RateLimitedError          429: ``retry_after`` seconds
     │    └── ServerError               5xx: retry later
     ├── TrustError                     the key directory cannot be believed
     │    ├── RootKeyChanged            a peer's identity key is not the one we trusted
     │    ├── UntrustedDirectory        a device list that does not verify (a lying server)
     │    ├── UntrustedMembership       a practice membership list that does not verify
     │    ├── GhostRecipient            a thread participant outside the verified membership
     │    └── UntrustedThread           who a thread is between is not what the patient
     │                                  signed (or this device pinned), or not us
     ├── UnreadableMessage              a message that does not decrypt (never plaintext)
     ├── AttachmentCorrupted            ciphertext failed an integrity check; file deleted
     ├── SessionRevoked                 close 4003: log in again; the connection stopped
     └── NotConnected                   send/read/typing before ``connect`` or after close

Server errors keep the server's stable ``code`` (e.g. ``"thread_closed"``) so callers
can branch on it without parsing text; ``title``/``detail`` are for logs and never
hold patient data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AttachmentCorrupted",
    "AuthenticationError",
    "BadRequestError",
    "CareChatError",
    "CareChatSdkError",
    "ConflictError",
    "ForbiddenError",
    "GhostRecipient",
    "NotConnected",
    "NotFoundError",
    "RateLimitedError",
    "RecipientsChanged",
    "RootKeyChanged",
    "ServerError",
    "SessionRevoked",
    "TooLargeError",
    "TrustError",
    "UnreadableMessage",
    "UntrustedDirectory",
    "UntrustedMembership",
    "UntrustedThread",
    "error_from_frame",
    "error_from_problem",
]


class CareChatSdkError(Exception):
    """Base of every exception the SDK raises on purpose."""


class CareChatError(CareChatSdkError):
    """The server refused a request. ``status`` is the HTTP status (0 for WS frames)."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        fields: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status or 'ws'} {code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.fields = dict(fields) if fields else None
        self.retry_after = retry_after


class BadRequestError(CareChatError):
    pass


class AuthenticationError(CareChatError):
    pass


class ForbiddenError(CareChatError):
    pass


class NotFoundError(CareChatError):
    pass


class ConflictError(CareChatError):
    pass


class RecipientsChanged(ConflictError):
    """The envelope's recipients are not the thread's current devices (handled inside
    ``Connection.send``; surfaces only if the devices keep changing)."""


class TooLargeError(CareChatError):
    pass


class RateLimitedError(CareChatError):
    pass


class ServerError(CareChatError):
    pass


_BY_STATUS: dict[int, type[CareChatError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: TooLargeError,
    422: BadRequestError,
    429: RateLimitedError,
}

# WS error frames carry a code but no status: the same classes, by code. Every code
# of docs/protocol.md's table is here (a test compares them); the exception keeps the
# precise ``code`` (e.g. "request_cooldown", "duplicate_client_msg_id").
_BY_CODE: dict[str, type[CareChatError]] = {
    "malformed_json": BadRequestError,
    "malformed_frame": BadRequestError,
    "unknown_frame_type": BadRequestError,
    "invalid_envelope": BadRequestError,
    "invalid_signature": BadRequestError,
    "invalid_thread_opening": BadRequestError,
    "invalid_broadcast": BadRequestError,
    "offer_price_not_configured": BadRequestError,
    "invalid_code": BadRequestError,
    "weak_password": BadRequestError,
    "phone_code_required": BadRequestError,
    "validation_failed": BadRequestError,
    "unsupported_media_type": BadRequestError,
    "method_not_allowed": BadRequestError,
    "unauthenticated": AuthenticationError,
    "invalid_credentials": AuthenticationError,
    "totp_required": AuthenticationError,
    "invalid_ticket": AuthenticationError,
    "invalid_socket_proof": AuthenticationError,
    "forbidden": ForbiddenError,
    "account_suspended": ForbiddenError,
    "origin_not_allowed": ForbiddenError,
    "device_required": ForbiddenError,
    "device_revoked": ForbiddenError,
    "patients_only": ForbiddenError,
    "not_found": NotFoundError,
    "thread_closed": ConflictError,
    "conflict": ConflictError,  # servers before one code per situation
    "recipients_changed": RecipientsChanged,
    "totp_already_enabled": ConflictError,
    "totp_setup_not_started": ConflictError,
    "not_accepting_requests": ConflictError,
    "request_cooldown": ConflictError,
    "thread_already_open": ConflictError,
    "thread_id_taken": ConflictError,
    "thread_transition_not_allowed": ConflictError,
    "duplicate_client_msg_id": ConflictError,
    "root_key_required": ConflictError,
    "device_limit_reached": ConflictError,
    "device_id_taken": ConflictError,
    "group_id_taken": ConflictError,
    "epoch_already_committed": ConflictError,
    "campaign_id_taken": ConflictError,
    "campaign_transition_not_allowed": ConflictError,
    "campaign_recipients_frozen": ConflictError,
    "campaign_has_no_recipients": ConflictError,
    "care_link_already_answered": ConflictError,
    "care_link_not_live": ConflictError,
    "care_link_exists": ConflictError,
    "link_request_pending": ConflictError,
    "hello_already_sent": ConflictError,
    "account_already_suspended": ConflictError,
    "account_not_suspended": ConflictError,
    "report_already_filed": ConflictError,
    "report_already_decided": ConflictError,
    "job_not_failed": ConflictError,
    "account_blocked": ForbiddenError,
    "cannot_block_self": BadRequestError,
    "consent_required": ForbiddenError,
    "consent_text_outdated": ConflictError,
    "erasure_already_requested": ConflictError,
    "erasure_not_requested": ConflictError,
    "too_large": TooLargeError,
    "rate_limited": RateLimitedError,
    "empty_upload": BadRequestError,
    "unknown_attachment": BadRequestError,
    "upload_quota_exceeded": TooLargeError,
    "upload_rate_limited": RateLimitedError,
    "too_many_pending_sockets": RateLimitedError,
    "socket_rate_limited": RateLimitedError,
    "member_role_not_allowed": BadRequestError,
    "registration_not_verified": ConflictError,
    "member_not_consented": ConflictError,
    "membership_epoch_taken": ConflictError,
    "member_on_signed_list": ConflictError,
    "malformed_http": BadRequestError,
    "octet_stream_expected": BadRequestError,
    "totp_enrolment_overdue": AuthenticationError,
    "unavailable": ServerError,
    "web_client_not_built": ServerError,
    "internal_error": ServerError,
    # the GP panel
    "practitioners_only": ForbiddenError,
    "sender_not_in_epoch": ForbiddenError,
    "panel_id_taken": ConflictError,
    "panel_epoch_route": ConflictError,
    "stale_group_epoch": ConflictError,
    "not_online": ConflictError,
    "at_capacity": ConflictError,
    "nothing_to_claim": ConflictError,
    "question_not_held": ConflictError,
    "colleague_not_available": ConflictError,
    "daily_question_cap_reached": ConflictError,
    "already_rated": ConflictError,
    # Paid chats.
    "webhook_signature_invalid": BadRequestError,
    "paid_chat_not_closable": ConflictError,
    "paid_chat_not_cancellable": ConflictError,
    "payments_not_configured": ServerError,
    "payment_provider_unavailable": ServerError,
}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def error_from_problem(status: int, body: object) -> CareChatError:
    """The exception for an HTTP error answer (problem+json, or anything else)."""
    doc = body if isinstance(body, dict) else {}
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else CareChatError)
    fields = doc.get("fields")
    return cls(
        status,
        _text(doc.get("code")) or f"http_{status}",
        _text(doc.get("title")) or "request failed",
        _text(doc.get("detail")),
        fields=fields if isinstance(fields, dict) else None,
        retry_after=_number(doc.get("retry_after")),
    )


def error_from_frame(frame: Mapping[str, Any]) -> CareChatError:
    """The exception for a WebSocket ``error`` frame."""
    code = _text(frame.get("code")) or "error"
    fields = frame.get("fields")
    return _BY_CODE.get(code, CareChatError)(
        0,
        code,
        _text(frame.get("title")) or "refused",
        _text(frame.get("detail")),
        fields=fields if isinstance(fields, dict) else None,
        retry_after=_number(frame.get("retry_after")),
    )


class TrustError(CareChatSdkError):
    """The server's key directory contradicts what this device trusts."""


class RootKeyChanged(TrustError):
    """``account_id``'s root key is not the one trusted so far.

    Nothing is encrypted to, or accepted from, that account until the application
    shows the change to its user (compare safety numbers) and calls
    ``Directory.accept_root_key(account_id, new_key)``.
    """

    def __init__(self, account_id: str, trusted: bytes, announced: bytes) -> None:
        super().__init__(f"the root key of account {account_id} changed")
        self.account_id = account_id
        self.trusted = trusted
        self.announced = announced


class UntrustedDirectory(TrustError):
    """A device list with an entry that does not chain to the trusted root key."""

    def __init__(self, account_id: str, reason: str) -> None:
        super().__init__(f"device list of account {account_id} refused: {reason}")
        self.account_id = account_id
        self.reason = reason


class UntrustedMembership(TrustError):
    """A practice's membership list that is not signed by the pinned admin's root key,
    names another practice or admin, or is older than one already verified."""

    def __init__(self, practice_id: str, reason: str) -> None:
        super().__init__(f"membership list of practice {practice_id} refused: {reason}")
        self.practice_id = practice_id
        self.reason = reason


class GhostRecipient(TrustError):
    """A thread names a participant who is neither its patient, its practitioner, nor
    a member of the practice's verified membership list: nothing is encrypted to it
    (and so nothing is sent) until the list verifiably includes that account."""

    def __init__(self, thread_id: str, account_id: str) -> None:
        super().__init__(f"thread {thread_id} names an unverified participant {account_id}")
        self.thread_id = thread_id
        self.account_id = account_id


class UntrustedThread(TrustError):
    """A thread whose patient or provider is not the one its patient signed in the
    thread opening (or that this device pinned when it first saw the thread), that
    has no valid opening, or that this account is neither the patient of nor on the
    provider side of: nothing is encrypted for it."""

    def __init__(self, thread_id: str, reason: str) -> None:
        super().__init__(f"thread {thread_id} refused: {reason}")
        self.thread_id = thread_id
        self.reason = reason


class UnreadableMessage(CareChatSdkError):
    """A message that failed verification or decryption; its content is never shown."""


class AttachmentCorrupted(CareChatSdkError):
    """An attachment failed an integrity check; the partial file was deleted."""


class SessionRevoked(CareChatSdkError):
    """The server closed the socket with 4003: the session or this device was revoked."""


class NotConnected(CareChatSdkError):
    """The real-time connection is not running (not started, closed, or revoked)."""
