"""The roster CSV reader: UTF-8 and Excel's exports, every rejected row by its line,
and labels that only the staff group's epoch key opens."""

from __future__ import annotations

import nacl.exceptions
import pytest

from e2e_crypto.client.roster import (
    RosterFormatError,
    audience,
    open_labels,
    parse_roster_csv,
    seal_labels,
)
from e2e_crypto.groups import GroupEpochKey
from e2e_crypto.wire import to_base64url


def test_utf8_with_a_bom_commas_and_a_quoted_line_break_keeps_line_numbers() -> None:
    data = (
        "\ufeffEmail,Language,Note,Vaccinated\n"
        'zoë@example.org,nl,"two\nlines",yes\n'
        "  ,en,,no\n"
        'ann@example.org,EN,"a, b",no\n'
        "bad@,fr,,\n"
        'unterminated@example.org,fr,"oops,no\n'
    ).encode()
    parsed = parse_roster_csv(data)
    assert [(r.line, r.email, r.language) for r in parsed.rows] == [
        (2, "zoë@example.org", "nl"),
        (5, "ann@example.org", "en"),
    ]
    assert parsed.rows[0].labels == {"note": "two\nlines", "vaccinated": "yes"}
    assert [(r.line, r.reason) for r in parsed.rejected] == [
        (4, "no e-mail address"),
        (6, "the e-mail address is malformed"),
        (7, "3 fields where the header has 4"),  # the quote runs to the end
    ]


def test_a_file_without_an_email_column_is_refused_whole() -> None:
    with pytest.raises(RosterFormatError):
        parse_roster_csv(b"name;phone\nAnn;123\n")
    with pytest.raises(RosterFormatError):
        parse_roster_csv(b"")


def test_labels_open_only_with_the_staff_epoch_key() -> None:
    staff = GroupEpochKey("staff-1", 1, bytes(range(32)))
    outsider = GroupEpochKey("staff-1", 1, bytes(range(1, 33)))
    sealed = seal_labels({"age_band": "65+", "conditions": "diabetes"}, staff.public_key)
    assert b"diabetes" not in sealed
    assert open_labels(sealed, staff) == {"age_band": "65+", "conditions": "diabetes"}
    with pytest.raises(nacl.exceptions.CryptoError):
        open_labels(sealed, outsider)
    listing: list[dict[str, object]] = [
        {"account_id": "ann", "group": "staff-1", "epoch": 1, "labels": to_base64url(sealed)},
        {"account_id": None, "group": "staff-1", "epoch": 1, "labels": to_base64url(sealed)},
    ]
    assert audience(listing, staff, lambda labels: labels["age_band"] == "65+") == ["ann"]
