"""Typed message payloads: what travels *inside* the encryption (the server never sees it).

Every payload encodes to canonical JSON — UTF-8, sorted keys, no whitespace — with a
type tag ``"t"`` and a version ``"v"``::

    {"body":"Bonjour","t":"text","v":1}

Canonical bytes matter because the franking commitment (abuse reports) covers the
exact bytes: two encoders must not produce two spellings of one message.

Decoding is strict and *total*: ``decode_payload`` never raises. Bytes that are not
a JSON object, an unknown ``t``, a newer ``v``, a missing or extra field, a wrong
type or an out-of-range value all give an ``Unsupported`` payload naming the reason,
which an app shows as "this message cannot be displayed — update the app".
Encoding validates the same rules in each class's constructor, so an invalid payload
cannot be sent in the first place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Final, Literal

from e2e_crypto.attachments import KEY_BYTES, AttachmentRef
from e2e_crypto.codec import check_id
from e2e_crypto.errors import MalformedData
from e2e_crypto.wire import from_base64url, to_base64url

__all__ = [
    "Attachment",
    "BookingInvitation",
    "ClosingSummary",
    "PaidChatOffer",
    "PanelQuestion",
    "Payload",
    "PayloadError",
    "RenewalRequest",
    "ReportToGp",
    "Text",
    "Unsupported",
    "decode_payload",
    "encode_payload",
]

VERSION: Final = 1
MAX_TEXT: Final = 10_000  # characters; a message must fit one 45 kB envelope
MAX_SHORT: Final = 200
MAX_SLOTS: Final = 20


class PayloadError(ValueError):
    """A payload that breaks its type's rules (raised by constructors, i.e. on send)."""


def _text(value: object, name: str, *, max_chars: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{name} must be a string")
    if required and not value.strip():
        raise PayloadError(f"{name} must not be empty")
    if len(value) > max_chars:
        raise PayloadError(f"{name} is longer than {max_chars} characters")
    return value


def _optional_text(value: object, name: str, *, max_chars: int) -> str | None:
    return None if value is None else _text(value, name, max_chars=max_chars, required=False)


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise PayloadError(f"{name} must be a timezone-aware datetime")
    return value


@dataclass(frozen=True, slots=True)
class Text:
    """A plain chat message."""

    t: ClassVar[str] = "text"
    body: str

    def __post_init__(self) -> None:
        _text(self.body, "body", max_chars=MAX_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {"body": self.body}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Text:
        return cls(body=doc["body"])


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file uploaded as ciphertext; the key and digest to fetch and verify it."""

    t: ClassVar[str] = "attachment"
    attachment_id: str
    name: str
    mime: str
    size: int
    key: bytes = field(repr=False)
    digest: bytes

    def __post_init__(self) -> None:
        try:
            check_id(self.attachment_id, "attachment id")
            self.ref  # noqa: B018 — validates key, digest and size together
        except MalformedData as exc:
            raise PayloadError(str(exc)) from None
        _text(self.name, "name", max_chars=255)
        mime = _text(self.mime, "mime", max_chars=127)
        if "/" not in mime or any(c.isspace() for c in mime):
            raise PayloadError("mime must look like type/subtype")

    @property
    def ref(self) -> AttachmentRef:
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise MalformedData("size must be an integer")
        if not isinstance(self.key, bytes) or not isinstance(self.digest, bytes):
            raise MalformedData("key and digest must be bytes")
        return AttachmentRef(self.key, self.digest, self.size)

    @classmethod
    def of(cls, attachment_id: str, name: str, mime: str, ref: AttachmentRef) -> Attachment:
        return cls(attachment_id, name, mime, ref.plaintext_size, ref.key, ref.ciphertext_digest)

    def to_json(self) -> dict[str, Any]:
        return {
            "attachment_id": self.attachment_id,
            "name": self.name,
            "mime": self.mime,
            "size": self.size,
            "key": to_base64url(self.key),
            "digest": to_base64url(self.digest),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Attachment:
        try:
            key = from_base64url(doc["key"], max_bytes=KEY_BYTES)
            digest = from_base64url(doc["digest"], max_bytes=32)
        except MalformedData as exc:
            raise PayloadError(str(exc)) from None
        return cls(doc["attachment_id"], doc["name"], doc["mime"], doc["size"], key, digest)


@dataclass(frozen=True, slots=True)
class RenewalRequest:
    """A patient asks for a prescription to be renewed."""

    t: ClassVar[str] = "renewal_request"
    drug: str
    dose: str
    pharmacy: str
    note: str | None = None

    def __post_init__(self) -> None:
        _text(self.drug, "drug", max_chars=MAX_SHORT)
        _text(self.dose, "dose", max_chars=MAX_SHORT)
        _text(self.pharmacy, "pharmacy", max_chars=MAX_SHORT)
        _optional_text(self.note, "note", max_chars=MAX_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {"drug": self.drug, "dose": self.dose, "pharmacy": self.pharmacy, "note": self.note}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RenewalRequest:
        return cls(doc["drug"], doc["dose"], doc["pharmacy"], doc["note"])


@dataclass(frozen=True, slots=True)
class BookingInvitation:
    """A practitioner invites the patient to book a physical consultation.

    Either proposed ``slots`` (aware datetimes) or a booking ``url``, or both.
    """

    t: ClassVar[str] = "booking_invitation"
    provider_kind: Literal["practitioner", "practice"]
    provider_name: str
    slots: tuple[datetime, ...] = ()
    url: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.provider_kind not in ("practitioner", "practice"):
            raise PayloadError("provider_kind must be practitioner or practice")
        _text(self.provider_name, "provider_name", max_chars=MAX_SHORT)
        if not isinstance(self.slots, tuple) or len(self.slots) > MAX_SLOTS:
            raise PayloadError(f"slots must be a tuple of at most {MAX_SLOTS} datetimes")
        for slot in self.slots:
            _aware(slot, "slot")
        url = _optional_text(self.url, "url", max_chars=2000)
        if url is not None and not url.startswith("https://"):
            raise PayloadError("url must be an https:// link")
        if not self.slots and url is None:
            raise PayloadError("propose slots or give a booking url")
        _optional_text(self.note, "note", max_chars=MAX_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider_kind": self.provider_kind,
            "provider_name": self.provider_name,
            "slots": [s.isoformat() for s in self.slots],
            "url": self.url,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> BookingInvitation:
        slots = doc["slots"]
        if not isinstance(slots, list) or not all(isinstance(s, str) for s in slots):
            raise PayloadError("slots must be a list of RFC 3339 strings")
        try:
            parsed = tuple(datetime.fromisoformat(s) for s in slots)
        except ValueError:
            raise PayloadError("slots must be RFC 3339 datetimes") from None
        return cls(doc["provider_kind"], doc["provider_name"], parsed, doc["url"], doc["note"])


@dataclass(frozen=True, slots=True)
class ReportToGp:
    """A practitioner's report for the patient's regular GP."""

    t: ClassVar[str] = "report_to_gp"
    summary: str
    gp_name: str
    gp_contact: str

    def __post_init__(self) -> None:
        _text(self.summary, "summary", max_chars=MAX_TEXT)
        _text(self.gp_name, "gp_name", max_chars=MAX_SHORT)
        _text(self.gp_contact, "gp_contact", max_chars=MAX_SHORT)

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "gp_name": self.gp_name, "gp_contact": self.gp_contact}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ReportToGp:
        return cls(doc["summary"], doc["gp_name"], doc["gp_contact"])


@dataclass(frozen=True, slots=True)
class ClosingSummary:
    """What the practitioner writes when closing a conversation."""

    t: ClassVar[str] = "closing_summary"
    summary: str
    follow_up: str | None = None

    def __post_init__(self) -> None:
        _text(self.summary, "summary", max_chars=MAX_TEXT)
        _optional_text(self.follow_up, "follow_up", max_chars=MAX_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "follow_up": self.follow_up}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ClosingSummary:
        return cls(doc["summary"], doc["follow_up"])


def _choices(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, tuple) or len(value) > MAX_SLOTS:
        raise PayloadError(f"{name} must be a tuple of at most {MAX_SLOTS} strings")
    for item in value:
        _text(item, name, max_chars=MAX_SHORT)
    return value


@dataclass(frozen=True, slots=True)
class PanelQuestion:
    """A free question to a GP panel: the intake summary (what the GP sees first),
    the triage rule set version it passed, and the patient's own words."""

    t: ClassVar[str] = "panel_question"
    age_band: str
    main_symptom: str
    since: str
    risk_factors: tuple[str, ...]
    text: str
    rules_version: int

    def __post_init__(self) -> None:
        for name in ("age_band", "main_symptom", "since"):
            _text(getattr(self, name), name, max_chars=MAX_SHORT)
        _choices(self.risk_factors, "risk_factors")
        _text(self.text, "text", max_chars=MAX_TEXT, required=False)
        if not isinstance(self.rules_version, int) or isinstance(self.rules_version, bool):
            raise PayloadError("rules_version must be an integer")

    def to_json(self) -> dict[str, Any]:
        return {
            "age_band": self.age_band,
            "main_symptom": self.main_symptom,
            "since": self.since,
            "risk_factors": list(self.risk_factors),
            "text": self.text,
            "rules_version": self.rules_version,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> PanelQuestion:
        factors = doc["risk_factors"]
        if not isinstance(factors, list):
            raise PayloadError("risk_factors must be a list")
        return cls(
            doc["age_band"],
            doc["main_symptom"],
            doc["since"],
            tuple(factors),
            doc["text"],
            doc["rules_version"],
        )


@dataclass(frozen=True, slots=True)
class PaidChatOffer:
    """A GP offers a paid chat instead of a free answer (payment comes later)."""

    t: ClassVar[str] = "paid_chat_offer"
    price_cents: int
    currency: str
    note: str | None = None

    def __post_init__(self) -> None:
        if (
            not isinstance(self.price_cents, int)
            or isinstance(self.price_cents, bool)
            or not 1 <= self.price_cents <= 1_000_000
        ):
            raise PayloadError("price_cents must be an integer from 1 to 1000000")
        if self.currency != "EUR":
            raise PayloadError("currency must be EUR")
        _optional_text(self.note, "note", max_chars=MAX_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {"price_cents": self.price_cents, "currency": self.currency, "note": self.note}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> PaidChatOffer:
        return cls(doc["price_cents"], doc["currency"], doc["note"])


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A payload this SDK cannot show: unknown type or version, or invalid content."""

    t: ClassVar[str] = "unsupported"
    type_tag: str | None
    version: int | None
    reason: str


Payload = (
    Text
    | Attachment
    | RenewalRequest
    | BookingInvitation
    | ReportToGp
    | ClosingSummary
    | PanelQuestion
    | PaidChatOffer
    | Unsupported
)
_Known = (
    Text
    | Attachment
    | RenewalRequest
    | BookingInvitation
    | ReportToGp
    | ClosingSummary
    | PanelQuestion
    | PaidChatOffer
)
_KNOWN: Final = (
    Text,
    Attachment,
    RenewalRequest,
    BookingInvitation,
    ReportToGp,
    ClosingSummary,
    PanelQuestion,
    PaidChatOffer,
)

_DECODERS: Final[dict[str, Callable[[Mapping[str, Any]], _Known]]] = {
    cls.t: cls.from_json for cls in _KNOWN
}
_FIELDS: Final[dict[str, frozenset[str]]] = {
    cls.t: frozenset(f.name for f in fields(cls)) for cls in _KNOWN
}


def encode_payload(payload: Payload) -> bytes:
    """Canonical JSON bytes of ``payload`` (the body that gets encrypted)."""
    if isinstance(payload, Unsupported) or payload.t not in _DECODERS:
        raise PayloadError("only the known payload types can be sent")
    doc = {**payload.to_json(), "t": payload.t, "v": VERSION}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _reject_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_payload(body: bytes) -> Payload:
    """The payload in ``body``; never raises (see the module docstring)."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_reject_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Unsupported(None, None, "not a JSON document")
    if not isinstance(doc, dict):
        return Unsupported(None, None, "not a JSON object")
    tag, version = doc.pop("t", None), doc.pop("v", None)
    if not isinstance(tag, str) or not isinstance(version, int) or isinstance(version, bool):
        return Unsupported(None, None, "no type tag or version")
    decoder = _DECODERS.get(tag)
    if decoder is None:
        return Unsupported(tag, version, "unknown payload type")
    if version != VERSION:
        return Unsupported(tag, version, "unsupported payload version")
    if set(doc) != _FIELDS[tag]:
        return Unsupported(tag, version, "missing or unexpected fields")
    try:
        return decoder(doc)
    except (PayloadError, TypeError, KeyError) as exc:
        return Unsupported(tag, version, f"invalid {tag}: {exc}")
