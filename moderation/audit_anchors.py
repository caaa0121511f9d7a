"""Anchors of the audit chain: its head, recorded where the database writer cannot reach.

The chain (``moderation.audit``) is unkeyed: whoever can write the collection can
change an old entry and recompute every later hash, and the chain still verifies. An
anchor is the head's ``(seq, hash)`` with the number of entries and the time, written
out of the database's reach (an append-only file an operator ships elsewhere, an
e-mail an auditor keeps). A rewritten history no longer has the anchored hash at the
anchored seq, and a truncated one no longer has the seq at all:
:func:`check_anchor` finds both.

One anchor is one line of JSON (``anchor_line``), so a file of them is appended to,
never rewritten, and read back with :func:`parse_anchors`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moderation.audit import GENESIS_HASH, BreakReason, BrokenLink

_HEX_HASH = re.compile(r"^[0-9a-f]{64}\Z")


class InvalidAnchor(ValueError):
    """A line that is not an anchor; ``str()`` names the line."""


@dataclass(frozen=True, slots=True)
class AuditAnchor:
    seq: int  # the head entry's seq (0: the log was empty)
    hash: str  # its hash (GENESIS_HASH for an empty log)
    entries: int  # how many entries the log held
    at: datetime  # when the anchor was taken


def anchor_line(anchor: AuditAnchor) -> str:
    """The anchor as one line of JSON (no newline), keys in a fixed order."""
    return json.dumps(
        {
            "seq": anchor.seq,
            "hash": anchor.hash,
            "entries": anchor.entries,
            "at": anchor.at.astimezone(UTC).isoformat(timespec="milliseconds"),
        },
        separators=(",", ":"),
    )


def parse_anchors(text: str) -> list[AuditAnchor]:
    """Every anchor in a file of anchor lines (blank lines skipped)."""
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            anchors.append(_parse(line, number))
    return anchors


def _parse(line: str, number: int) -> AuditAnchor:
    try:
        fields: Any = json.loads(line)
        seq, hash_, entries = fields["seq"], fields["hash"], fields["entries"]
        at = datetime.fromisoformat(fields["at"])
    except (ValueError, KeyError, TypeError):
        raise InvalidAnchor(f"line {number} is not an audit anchor") from None
    if (
        type(seq) is not int
        or type(entries) is not int
        or seq < 0
        or entries < 0
        or not isinstance(hash_, str)
        or not _HEX_HASH.match(hash_)
        or at.utcoffset() is None
        or (seq == 0 and hash_ != GENESIS_HASH)
    ):
        raise InvalidAnchor(f"line {number} is not an audit anchor")
    return AuditAnchor(seq=seq, hash=hash_, entries=entries, at=at)


def check_anchor(anchor: AuditAnchor, stored_hash: str | None) -> BrokenLink | None:
    """Whether the log still holds the anchored entry: ``stored_hash`` is the hash of
    the entry the log has now at ``anchor.seq`` (None: it has none)."""
    if anchor.seq == 0:
        return None  # anchored while empty: every log extends that
    if stored_hash is None:
        return BrokenLink(anchor.seq, BreakReason.ANCHOR_MISSING)
    if stored_hash != anchor.hash:
        return BrokenLink(anchor.seq, BreakReason.ANCHOR_MISMATCH)
    return None
