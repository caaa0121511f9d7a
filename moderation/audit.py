"""The audit log's core: append-only entries linked by a hash chain.

Each entry commits to its own fields and to the hash of the entry before it::

    GENESIS_HASH ─┐
                  ▼
    #1 {fields, prev_hash} ─hash─┐
                                 ▼
              #2 {fields, prev_hash} ─hash─┐
                                           ▼
                        #3 {fields, prev_hash} ─hash─ ...

so changing, removing or inserting an entry breaks a link that :func:`verify_chain`
finds. This module is pure logic; storage lives in the server, which appends with a
unique index on ``seq`` and retries on a duplicate key, so concurrent appenders end up
in one line instead of forking the chain.

What the chain does not do: anyone who can write the collection *and* recompute every
later hash can rewrite history undetected, because the hash is unkeyed (verification
needs no secret). Against that, record the head ``(seq, hash)`` somewhere the database
writer cannot reach (an operator log, a daily e-mail) and later verify from it with
``anchor=``.

Entries describe *who did what to which object*, never content: ``details`` is a small
flat mapping of codes and ids, checked on construction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, TypeGuard

GENESIS_HASH: Final = "0" * 64
# Domain separation: an audit hash can never be mistaken for any other SHA-256 use.
_HASH_DOMAIN: Final = b"carechat.audit.v1\x00"
_HEX_HASH = re.compile(r"^[0-9a-f]{64}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_DETAILS: Final = 16
MAX_DETAIL_CHARS: Final = 200
MAX_ID_CHARS: Final = 128
_INT64 = range(-(2**63), 2**63)  # what MongoDB stores as a number without loss

DetailValue = str | int | bool


class AuditAction(StrEnum):
    """What happened. Add members freely; never rename or remove a stored value."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a password
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name, not a password
    DEVICE_ADDED = "device_added"
    DEVICE_REVOKED = "device_revoked"
    CARE_LINK_CREATED = "care_link_created"
    CARE_LINK_ENDED = "care_link_ended"
    INVITATION_CREATED = "invitation_created"
    ADMIN_ACTION = "admin_action"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_VERIFIED = "account_verified"
    DATA_ACCESS = "data_access"
    TOTP_ENABLED = "totp_enabled"
    REPORT_FILED = "report_filed"
    ACCOUNT_WARNED = "account_warned"
    SUSPENSION_LIFTED = "suspension_lifted"
    REPORT_RESOLVED = "report_resolved"
    REPORT_DISMISSED = "report_dismissed"
    JOB_RETRIED = "job_retried"
    DATA_EXPORTED = "data_exported"
    ERASURE_REQUESTED = "erasure_requested"
    ERASURE_CANCELLED = "erasure_cancelled"
    ACCOUNT_ERASED = "account_erased"
    # A thread, panel question or paid chat moved (details: kind, event, from, to).
    THREAD_STATE_CHANGED = "thread_state_changed"
    # A pass of the retention job (details: counts per kind, never an id).
    RETENTION_RUN = "retention_run"


class BreakReason(StrEnum):
    HASH_MISMATCH = "hash mismatch"  # the entry's fields are not what it was hashed over
    GAP = "gap"  # one or more seq numbers are missing before this entry
    PREV_MISMATCH = "prev mismatch"  # it does not link to the entry before it
    DUPLICATE = "duplicate"  # a second entry with an already seen seq
    MALFORMED = "malformed"  # a stored document that is not an entry at all
    # Against an anchor (moderation/audit_anchors.py): the anchored entry is gone, or
    # the log holds another entry at its seq (history rewritten, hashes recomputed).
    ANCHOR_MISSING = "anchored entry missing"
    ANCHOR_MISMATCH = "differs from its anchor"


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """The first entry (in seq order) at which the chain does not hold."""

    seq: int
    reason: BreakReason


class InvalidAuditEntry(ValueError):
    """Fields that may not go into the audit log (or a document that is no entry)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str | None
    action: AuditAction
    subject: str | None
    ip_hash: str | None
    details: Mapping[str, DetailValue]
    prev_hash: str
    hash: str

    def __post_init__(self) -> None:
        if type(self.seq) is not int or self.seq < 1:
            raise InvalidAuditEntry("seq must be a positive integer")
        # Converting to UTC keeps the instant, so the hash is unaffected; finer than a
        # millisecond is refused because MongoDB would silently drop it.
        object.__setattr__(self, "at", _utc_millis(self.at))
        try:
            object.__setattr__(self, "action", AuditAction(self.action))
        except ValueError:
            raise InvalidAuditEntry("unknown audit action") from None
        for name in ("actor", "subject", "ip_hash"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_ID_CHARS):
                raise InvalidAuditEntry(f"{name} must be None or a string of an id")
        for name in ("prev_hash", "hash"):
            if not isinstance(getattr(self, name), str) or not _HEX_HASH.match(getattr(self, name)):
                raise InvalidAuditEntry(f"{name} must be 64 lowercase hex digits")
        # A read-only copy: the entry is hashed once and must not change under it.
        object.__setattr__(self, "details", MappingProxyType(validate_details(self.details)))


def validate_details(details: Mapping[str, object]) -> dict[str, DetailValue]:
    """Checks that details are small and flat: at most 16 keys, short strings, ints.

    Nested structures are refused so that nobody logs a whole request (and with it,
    patient data) by accident.
    """
    if not isinstance(details, Mapping):
        raise InvalidAuditEntry("details must be a mapping")
    if len(details) > MAX_DETAILS:
        raise InvalidAuditEntry(f"details may hold at most {MAX_DETAILS} keys")
    checked: dict[str, DetailValue] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not _DETAIL_KEY.match(key):
            raise InvalidAuditEntry("detail keys must be 1-40 of a-z 0-9 _, starting a-z")
        if not _is_detail_value(value):
            raise InvalidAuditEntry(
                f"detail {key} must be a bool, a 64-bit int or at most "
                f"{MAX_DETAIL_CHARS} characters of text"
            )
        checked[key] = value
    return checked


def _is_detail_value(value: object) -> TypeGuard[DetailValue]:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return value in _INT64
    return isinstance(value, str) and len(value) <= MAX_DETAIL_CHARS


def _utc_millis(at: object) -> datetime:
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidAuditEntry("at must be a timezone-aware datetime")
    if at.microsecond % 1000:
        raise InvalidAuditEntry("at must have millisecond precision")
    return at.astimezone(UTC)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"
    raise TypeError(f"{type(value).__name__} has no canonical encoding")


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """One byte string per value: sorted keys, no spaces, ASCII, RFC 3339 UTC times.

    Deterministic across processes and Python versions, which is all a hash input
    needs; ``true`` and ``1`` stay distinct, floats are not expected.
    """
    text = json.dumps(
        fields,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_json_default,
    )
    return text.encode("ascii")


def chain_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the previous entry's hash and this entry's canonical fields."""
    digest = hashlib.sha256(_HASH_DOMAIN)
    digest.update(prev_hash.encode("ascii") + b"\x00")
    digest.update(canonical_bytes(fields))
    return digest.hexdigest()


def _hashed_fields(
    seq: int,
    at: datetime,
    actor: str | None,
    action: AuditAction,
    subject: str | None,
    ip_hash: str | None,
    details: Mapping[str, DetailValue],
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": str(action),
        "subject": subject,
        "ip_hash": ip_hash,
        "details": dict(details),
    }


def _expected_hash(entry: AuditEntry) -> str:
    fields = _hashed_fields(
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.subject,
        entry.ip_hash,
        entry.details,
    )
    return chain_hash(entry.prev_hash, fields)


def new_entry(
    prev: AuditEntry | None,
    *,
    at: datetime,
    actor: str | None,
    action: AuditAction,
    subject: str | None = None,
    ip_hash: str | None = None,
    details: Mapping[str, DetailValue] | None = None,
) -> AuditEntry:
    """The entry that follows ``prev`` (or starts the log when ``prev`` is None).

    ``at`` is truncated to the millisecond, the precision MongoDB keeps.
    """
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidAuditEntry("at must be a timezone-aware datetime")
    at = at.replace(microsecond=at.microsecond - at.microsecond % 1000).astimezone(UTC)
    seq = prev.seq + 1 if prev is not None else 1
    prev_hash = prev.hash if prev is not None else GENESIS_HASH
    checked = validate_details(details or {})
    action = AuditAction(action)
    fields = _hashed_fields(seq, at, actor, action, subject, ip_hash, checked)
    return AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        ip_hash=ip_hash,
        details=checked,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, fields),
    )


_DOCUMENT_FIELDS: Final = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "ip_hash",
    "details",
    "prev_hash",
    "hash",
)


def to_document(entry: AuditEntry) -> dict[str, Any]:
    """The MongoDB document (no ``_id``: the store adds its own, ``seq`` is unique)."""
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": str(entry.action),
        "subject": entry.subject,
        "ip_hash": entry.ip_hash,
        "details": dict(entry.details),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def from_document(doc: Mapping[str, Any]) -> AuditEntry:
    """Reads a stored entry back; raises :class:`InvalidAuditEntry` if it is not one.

    A naive ``at`` is read as UTC: that is what BSON stores, and drivers configured
    without ``tz_aware`` hand it back naive.
    """
    missing = [name for name in _DOCUMENT_FIELDS if name not in doc]
    if missing:
        raise InvalidAuditEntry(f"document lacks {', '.join(missing)}")
    at = doc["at"]
    if isinstance(at, datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return AuditEntry(
        seq=doc["seq"],
        at=at,
        actor=doc["actor"],
        action=doc["action"],
        subject=doc["subject"],
        ip_hash=doc["ip_hash"],
        details=doc["details"],
        prev_hash=doc["prev_hash"],
        hash=doc["hash"],
    )


def verify_chain(
    entries: Iterable[AuditEntry | Mapping[str, Any]], *, anchor: AuditEntry | None = None
) -> BrokenLink | None:
    """The first broken link in seq order, or None when the whole chain holds.

    Without ``anchor`` the entries must start the log (seq 1, linked to
    :data:`GENESIS_HASH`); with one, they must continue from it. Entries are held in
    memory to be sorted, so verify a long log page by page, passing the last entry of
    the previous page as ``anchor``.
    """
    parsed: list[tuple[int, AuditEntry | None]] = []
    for item in entries:
        if isinstance(item, AuditEntry):
            parsed.append((item.seq, item))
            continue
        try:
            entry = from_document(item)
        except (InvalidAuditEntry, TypeError):
            seq = item.get("seq")
            parsed.append((seq if type(seq) is int else 0, None))
        else:
            parsed.append((entry.seq, entry))
    parsed.sort(key=lambda pair: pair[0])
    prev_seq, prev_hash = (anchor.seq, anchor.hash) if anchor else (0, GENESIS_HASH)
    for seq, maybe_entry in parsed:
        reason = _link_break(maybe_entry, prev_seq, prev_hash)
        if reason is not None:
            return BrokenLink(seq, reason)
        assert maybe_entry is not None
        prev_seq, prev_hash = maybe_entry.seq, maybe_entry.hash
    return None


def _link_break(entry: AuditEntry | None, prev_seq: int, prev_hash: str) -> BreakReason | None:
    if entry is None:
        return BreakReason.MALFORMED
    # Own hash first: a tampered entry is reported as itself, not as its neighbour.
    if _expected_hash(entry) != entry.hash:
        return BreakReason.HASH_MISMATCH
    if entry.seq <= prev_seq:
        return BreakReason.DUPLICATE
    if entry.seq > prev_seq + 1:
        return BreakReason.GAP
    if entry.prev_hash != prev_hash:
        return BreakReason.PREV_MISMATCH
    return None
