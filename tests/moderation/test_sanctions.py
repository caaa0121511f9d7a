"""Sanctions and consents as plain rules: what a valid sanction is, how it reads, and
when a consent counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from moderation.consents import TEXT_VERSIONS, ConsentAction, ConsentRecord, Purpose
from moderation.sanctions import (
    MAX_NOTE_CHARS,
    InvalidSanction,
    ModeratorAction,
    Reason,
    Sanction,
    close_reason,
)

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reason", "note", "at"),
    [
        (Reason.OTHER, "", AT),  # "other" says nothing without a note
        (Reason.SPAM, "x" * (MAX_NOTE_CHARS + 1), AT),
        (Reason.SPAM, "bell\x07", AT),
        (Reason.SPAM, "", AT.replace(tzinfo=None)),
    ],
)
def test_invalid_sanctions_are_refused(reason: Reason, note: str, at: datetime) -> None:
    with pytest.raises(InvalidSanction):
        Sanction(ModeratorAction.WARN, reason, at, note)


def test_a_sanction_reads_with_its_appeal_and_survives_storage() -> None:
    suspension = Sanction(ModeratorAction.SUSPEND, Reason.THREATS, AT, "See our rules.")
    assert suspension.shown("mailto:appeals@example.org") == {
        "action": "suspend",
        "reason": "threats",
        "at": AT.isoformat(),
        "note": "See our rules.",
        "appeal": "mailto:appeals@example.org",
    }
    assert Sanction.from_document(suspension.to_document()) == suspension
    # A lifted suspension has nothing to appeal.
    lifted = Sanction(ModeratorAction.LIFT, Reason.APPEAL_UPHELD, AT)
    assert "appeal" not in lifted.shown("mailto:appeals@example.org")


def test_every_close_reason_fits_a_websocket_close_frame() -> None:
    for reason in Reason:
        assert len(close_reason(reason).encode()) <= 123


def test_a_consent_counts_only_as_a_grant_of_the_current_text() -> None:
    current = TEXT_VERSIONS[Purpose.REPORT_TO_GP]

    def record(action: ConsentAction, version: str) -> ConsentRecord:
        return ConsentRecord("ann", Purpose.REPORT_TO_GP, "", action, version, AT)

    assert record(ConsentAction.GRANT, current).counts(current)
    assert not record(ConsentAction.REVOKE, current).counts(current)
    assert not record(ConsentAction.GRANT, "2020-01").counts(current)
