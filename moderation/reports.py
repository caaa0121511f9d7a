"""Abuse reports: what a report says and what moderators see of it.

A participant reports a message by revealing its plaintext and franking key. The
server checks them against the envelope it stored and its own franking stamp (see
``e2e_crypto/franking.py``); this module only describes the outcome. A report that
checks out is :attr:`Verification.VERIFIED`: the sender is proven (their device signed
the commitment to exactly this text, and the server's stamp says it delivered it in
this thread). One that does not is kept too, as :attr:`Verification.UNVERIFIABLE`, so
that moderators can see forged or garbled reports for what they are; its sender is
only the one the server's record names, never proven to have written that text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# What a reporter may reveal: a message's plaintext is at most an envelope's payload.
MAX_REVEALED_BYTES: Final = 45_000


class Category(StrEnum):
    """What the reporter says is wrong (their word, not a finding)."""

    SPAM = "spam"
    HARASSMENT = "harassment"
    THREATS = "threats"
    IMPERSONATION = "impersonation"
    ILLEGAL_CONTENT = "illegal_content"
    FRAUD = "fraud"
    OTHER = "other"


class Verification(StrEnum):
    VERIFIED = "verified"
    UNVERIFIABLE = "unverifiable"


class ReportStatus(StrEnum):
    QUEUED = "queued"  # waiting for a moderator
    CLOSED = "closed"
    RESOLVED = "resolved"  # a moderator acted on it
    DISMISSED = "dismissed"  # a moderator found nothing to act on


class Decision(StrEnum):
    """What a moderator does with a queued report."""

    RESOLVE = "resolve"
    DISMISS = "dismiss"

    @property
    def status(self) -> ReportStatus:
        return ReportStatus.RESOLVED if self is Decision.RESOLVE else ReportStatus.DISMISSED


class DecisionReason(StrEnum):
    """Why a report was closed: a code for the audit log, never prose.

    Add members freely; never rename a stored value."""

    ACTION_TAKEN = "action_taken"  # the sender was warned or suspended
    NO_VIOLATION = "no_violation"
    UNVERIFIABLE = "unverifiable"  # the report proves nothing about its sender
    DUPLICATE = "duplicate"
    OTHER = "other"
