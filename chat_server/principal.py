"""Who is asking: the authenticated account, its role, session and device."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PATIENT = "patient"
    PRACTITIONER = "practitioner"
    PRACTICE_ADMIN = "practice_admin"
    ADMIN = "admin"  # platform admin and moderator


class AccountStatus(StrEnum):
    UNVERIFIED = "unverified"  # e-mail address not confirmed yet
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    role: Role
    session_id: str
    device_id: str | None = None
    # The client's address as this request or socket came in (behind trusted proxies,
    # the one they forwarded for): the IP scope of rate limits. Never stored.
    ip: str | None = None
