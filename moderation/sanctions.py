"""Moderator actions on an account: warn, suspend, lift; each with a reason.

A reason is a code from :class:`Reason`, not prose: it is what the audit log keeps
and what the person sanctioned is shown, so it must never carry message content or
patient data. A moderator may add a short :attr:`Sanction.note` for the person (shown
to them, kept on their account, never in the audit log or in Redis).

The server stores the sanction and enforces it (sessions ended, sockets closed on every
process, logins refused with the reason and the appeal route); this module only says
what a valid sanction is and how it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

MAX_NOTE_CHARS: Final = 500


class ModeratorAction(StrEnum):
    WARN = "warn"
    SUSPEND = "suspend"
    LIFT = "lift"


class Reason(StrEnum):
    """Why a moderator acted. Add members freely; never rename a stored value."""

    SPAM = "spam"
    HARASSMENT = "harassment"
    THREATS = "threats"
    IMPERSONATION = "impersonation"
    ILLEGAL_CONTENT = "illegal_content"
    FRAUD = "fraud"
    TERMS_VIOLATION = "terms_violation"
    # Lifting a suspension has reasons too.
    APPEAL_UPHELD = "appeal_upheld"
    SANCTION_SERVED = "sanction_served"
    MISTAKE = "mistake"
    OTHER = "other"


class InvalidSanction(ValueError):
    """A sanction that may not be recorded (a note too long or with control characters)."""


@dataclass(frozen=True, slots=True)
class Sanction:
    action: ModeratorAction
    reason: Reason
    at: datetime
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", ModeratorAction(self.action))
        object.__setattr__(self, "reason", Reason(self.reason))
        if self.at.tzinfo is None:
            raise InvalidSanction("a sanction's time must be timezone-aware")
        if len(self.note) > MAX_NOTE_CHARS:
            raise InvalidSanction(f"a note holds at most {MAX_NOTE_CHARS} characters")
        if any(ord(c) < 32 and c != "\n" for c in self.note):
            raise InvalidSanction("a note holds no control characters")
        if self.reason is Reason.OTHER and not self.note.strip():
            raise InvalidSanction("the reason 'other' needs a note saying what it is")

    def shown(self, appeal: str) -> dict[str, str]:
        """What the person sanctioned is told, with how to appeal."""
        body = {"action": str(self.action), "reason": str(self.reason), "at": self.at.isoformat()}
        if self.note:
            body["note"] = self.note
        if self.action is not ModeratorAction.LIFT:
            body["appeal"] = appeal
        return body

    def to_document(self) -> dict[str, object]:
        return {
            "action": str(self.action),
            "reason": str(self.reason),
            "at": self.at,
            "note": self.note,
        }

    @classmethod
    def from_document(cls, doc: dict[str, object]) -> Sanction:
        at = doc["at"]
        if not isinstance(at, datetime):
            raise InvalidSanction("a stored sanction has a time")
        return cls(
            ModeratorAction(str(doc["action"])),
            Reason(str(doc["reason"])),
            at,
            str(doc.get("note", "")),
        )


def close_reason(reason: Reason) -> str:
    """The WebSocket close reason of a suspension (at most 123 bytes, the protocol's cap)."""
    return f"account suspended: {reason}; log in to see why and how to appeal"
