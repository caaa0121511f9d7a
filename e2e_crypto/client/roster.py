"""A practice's roster, client side: read the CSV, seal its labels, choose audiences.

The server never sees a label. This module reads the practice's export (UTF-8, or
Excel's semicolon-separated Latin-1/Windows-1252), keeps the address and language of
each row in the clear (the invitation needs them) and seals every other column, as
one JSON object, to the practice's staff group epoch key (``crypto_box_seal``): any
current member of the staff group can open it, the server cannot. Rows it cannot
read are reported with their line number and the reason; nothing else is dropped.

The audience of a campaign is computed here too, from the opened labels, and only
the resulting list of patients is sent to the server.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import nacl.bindings

from e2e_crypto.groups import GroupEpochKey
from e2e_crypto.public import PublicEncryptionKey
from e2e_crypto.wire import from_base64url, to_base64url

EMAIL_COLUMN: Final = "email"
LANGUAGE_COLUMN: Final = "language"
LANGUAGES: Final = frozenset({"en", "fr", "nl"})
DEFAULT_LANGUAGE: Final = "en"
EMAIL: Final = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")
IMPORT_CHUNK: Final = 100  # rows per request: keeps a request well under the body limit

Labels = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RosterRow:
    line: int
    email: str
    language: str
    labels: Labels = field(repr=False)  # patient data: never printed


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedRoster:
    rows: list[RosterRow]
    rejected: list[RejectedRow]


class RosterFormatError(ValueError):
    """The file as a whole is unreadable (no header with an e-mail column)."""


def decode(data: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else Windows-1252 (Excel's "CSV" on
    Western European Windows, a superset of Latin-1's printable characters), else
    Latin-1, which decodes any byte."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _delimiter(header_line: str) -> str:
    # Excel writes ";" where "," is the decimal separator (fr, nl, de locales).
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def parse_roster_csv(data: bytes) -> ParsedRoster:
    text = decode(data)
    first = text.splitlines()[0] if text.strip() else ""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise RosterFormatError("the file is empty") from None
    if EMAIL_COLUMN not in header:
        raise RosterFormatError("the header has no 'email' column")
    if len(set(header)) != len(header) or "" in header:
        raise RosterFormatError("the header has an empty or repeated column name")
    rows: list[RosterRow] = []
    rejected: list[RejectedRow] = []
    seen: dict[str, int] = {}
    end = reader.line_num
    while True:
        start = end + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:
            rejected.append(RejectedRow(start, "unreadable CSV (an unclosed quote?)"))
            break
        end = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # a blank line is not a row
        verdict = _row(start, header, record, seen)
        if isinstance(verdict, RejectedRow):
            rejected.append(verdict)
        else:
            seen[verdict.email] = start
            rows.append(verdict)
    return ParsedRoster(rows, rejected)


def _row(
    line: int, header: list[str], record: list[str], seen: Mapping[str, int]
) -> RosterRow | RejectedRow:
    if len(record) != len(header):
        return RejectedRow(line, f"{len(record)} fields where the header has {len(header)}")
    cells = {name: value.strip() for name, value in zip(header, record, strict=True)}
    email = cells.pop(EMAIL_COLUMN).lower()
    language = (cells.pop(LANGUAGE_COLUMN, "") or DEFAULT_LANGUAGE).lower()
    if not email:
        return RejectedRow(line, "no e-mail address")
    if EMAIL.fullmatch(email) is None:
        return RejectedRow(line, "the e-mail address is malformed")
    if email in seen:
        return RejectedRow(line, f"the same e-mail address as line {seen[email]}")
    if language not in LANGUAGES:
        return RejectedRow(line, "the language is not one of en, fr, nl")
    return RosterRow(line, email, language, cells)


def seal_labels(labels: Labels, staff_key: PublicEncryptionKey) -> bytes:
    """The labels as JSON, sealed to the staff group epoch's public key."""
    plain = json.dumps(dict(labels), sort_keys=True, ensure_ascii=False).encode()
    sealed: bytes = nacl.bindings.crypto_box_seal(plain, staff_key.raw)
    return sealed


def open_labels(sealed: bytes, key: GroupEpochKey) -> dict[str, str]:
    plain: bytes = nacl.bindings.crypto_box_seal_open(sealed, key.public_key.raw, key.secret)
    labels: dict[str, str] = json.loads(plain)
    return labels


def import_bodies(
    rows: Sequence[RosterRow], staff_key: PublicEncryptionKey, *, group: str, epoch: int
) -> Iterable[dict[str, Any]]:
    """The request bodies of ``POST /practices/{id}/roster``, ``IMPORT_CHUNK`` rows each."""
    for i in range(0, len(rows), IMPORT_CHUNK):
        yield {
            "group": group,
            "epoch": epoch,
            "rows": [
                {
                    "line": r.line,
                    "email": r.email,
                    "language": r.language,
                    "labels": to_base64url(seal_labels(r.labels, staff_key)),
                }
                for r in rows[i : i + IMPORT_CHUNK]
            ],
        }


def audience(
    listing: Iterable[Mapping[str, Any]],
    key: GroupEpochKey,
    choose: Callable[[Mapping[str, str]], bool],
) -> list[str]:
    """The accounts of the roster rows (``GET .../roster``) whose labels ``choose``
    accepts; rows not linked to an account yet, or sealed to another epoch, are left
    out."""
    chosen: list[str] = []
    for row in listing:
        if (
            row.get("account_id") is None
            or row["epoch"] != key.epoch
            or row["group"] != key.group_id
        ):
            continue
        if choose(open_labels(from_base64url(row["labels"], max_bytes=8192), key)):
            chosen.append(row["account_id"])
    return chosen
