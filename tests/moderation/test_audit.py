"""The audit chain: what verifies, what any tampering looks like, what details may hold."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymongo.asynchronous.database import AsyncDatabase

from moderation.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditEntry,
    BreakReason,
    BrokenLink,
    InvalidAuditEntry,
    canonical_bytes,
    chain_hash,
    from_document,
    new_entry,
    to_document,
    verify_chain,
)

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ACTIONS = list(AuditAction)


def build_chain(length: int) -> list[AuditEntry]:
    chain: list[AuditEntry] = []
    for number in range(length):
        chain.append(
            new_entry(
                chain[-1] if chain else None,
                at=START + timedelta(seconds=number, microseconds=1500),
                actor=f"acct-{number % 3}",
                action=ACTIONS[number % len(ACTIONS)],
                subject=f"thread-{number}" if number % 2 else None,
                ip_hash=f"{number:032x}" if number % 3 else None,
                details={"attempt": number, "ok": number % 2 == 0, "via": "ws"},
            )
        )
    return chain


CHAIN = build_chain(12)


def test_a_chain_verifies_from_entries_and_documents() -> None:
    assert [entry.seq for entry in CHAIN] == list(range(1, 13))
    assert CHAIN[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(CHAIN))
    assert verify_chain(CHAIN) is None
    assert verify_chain(to_document(entry) for entry in CHAIN) is None
    assert verify_chain([]) is None


def test_input_order_does_not_matter() -> None:
    assert verify_chain(list(reversed(CHAIN))) is None


def test_the_encoding_is_pinned() -> None:
    # A change of canonical form or hash would orphan every stored log: it must be
    # deliberate (a new version), never a side effect.
    fields = {"b": 1, "a": [True, None], "at": START, "s": "é"}
    assert canonical_bytes(fields) == (
        b'{"a":[true,null],"at":"2026-03-01T09:30:00.000000Z","b":1,"s":"\\u00e9"}'
    )
    entry = new_entry(None, at=START, actor="acct-1", action=AuditAction.LOGIN)
    body = (
        b'{"action":"login","actor":"acct-1","at":"2026-03-01T09:30:00.000000Z",'
        b'"details":{},"ip_hash":null,"seq":1,"subject":null}'
    )
    # The recipe, spelled out for anyone re-implementing verification elsewhere.
    recipe = hashlib.sha256(b"carechat.audit.v1\x00" + b"0" * 64 + b"\x00" + body).hexdigest()
    assert entry.hash == recipe == chain_hash(GENESIS_HASH, json.loads(body) | {"at": START})
    assert entry.hash == "94c647eb831d9fab4820d500ae9ccd2d27b32ec45d006d218b3d330d09d0e682"


_IDS = st.none() | st.text("abc-019", max_size=12)
_HEX64 = st.binary(min_size=32, max_size=32).map(bytes.hex)
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "seq": st.integers(1, 40),
    "at": st.integers(-(10**6), 10**6).map(lambda ms: timedelta(milliseconds=ms)),
    "actor": _IDS,
    "action": st.sampled_from(ACTIONS),
    "subject": _IDS,
    "ip_hash": st.none() | st.binary(min_size=16, max_size=16).map(bytes.hex),
    "details": st.dictionaries(
        st.sampled_from(["attempt", "ok", "via", "code"]),
        st.booleans() | st.integers(-5, 5) | st.text("wsx", max_size=3),
        max_size=4,
    ),
    "prev_hash": _HEX64,
    "hash": _HEX64,
}


def _other_value(entry: AuditEntry, field: str, data: st.DataObject) -> Any:
    """A valid value for ``field`` that differs from the entry's."""
    old = getattr(entry, field)
    if field == "at":
        shift = data.draw(_VALUES["at"].filter(bool))
        return old + shift
    return data.draw(_VALUES[field].filter(lambda new: new != old))


FIELDS = [field.name for field in dataclasses.fields(AuditEntry)]


@given(st.data())
def test_any_modified_field_is_caught_at_that_entry(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(CHAIN) - 1), label="index")
    field = data.draw(st.sampled_from(FIELDS), label="field")
    tampered = dataclasses.replace(CHAIN[index], **{field: _other_value(CHAIN[index], field, data)})
    chain = [*CHAIN[:index], tampered, *CHAIN[index + 1 :]]
    broken = verify_chain(chain)
    if field == "seq":
        # Renumbered, it sorts elsewhere, but it can never be read as intact.
        assert broken is not None
        assert broken.seq <= max(index + 2, tampered.seq)
    else:
        assert broken == BrokenLink(index + 1, BreakReason.HASH_MISMATCH)
    # The same tampering done in the database is caught the same way.
    assert verify_chain(to_document(entry) for entry in chain) == broken


@pytest.mark.parametrize("index", [0, 5, 10])
def test_a_deleted_entry_is_a_gap(index: int) -> None:
    chain = CHAIN[:index] + CHAIN[index + 1 :]
    assert verify_chain(chain) == BrokenLink(index + 2, BreakReason.GAP)


def test_swapped_entries_are_caught() -> None:
    chain = list(CHAIN)
    chain[3] = dataclasses.replace(CHAIN[4], seq=4)
    chain[4] = dataclasses.replace(CHAIN[3], seq=5)
    assert verify_chain(chain) == BrokenLink(4, BreakReason.HASH_MISMATCH)


def test_an_inserted_entry_is_caught() -> None:
    forged = new_entry(CHAIN[4], at=START, actor="intruder", action=AuditAction.ADMIN_ACTION)
    # Squeezed in with the seq of the entry it displaces...
    broken = verify_chain([*CHAIN, forged])
    assert broken is not None
    assert broken.seq == 6
    assert broken.reason in {BreakReason.DUPLICATE, BreakReason.PREV_MISMATCH}
    # ...or with every later entry renumbered: their hashes cover their seq.
    renumbered = [dataclasses.replace(e, seq=e.seq + 1) for e in CHAIN[5:]]
    assert verify_chain([*CHAIN[:5], forged, *renumbered]) == BrokenLink(
        7, BreakReason.HASH_MISMATCH
    )


def test_a_rehashed_rewrite_is_caught_from_an_anchored_head() -> None:
    # Rewriting entry 6 and recomputing every later hash fools a plain walk; a head
    # recorded out of reach of the database writer does not get fooled.
    rewritten = list(CHAIN[:5])
    for entry in CHAIN[5:]:
        actor = "someone-else" if entry.seq == 6 else entry.actor
        rewritten.append(
            new_entry(
                rewritten[-1],
                at=entry.at,
                actor=actor,
                action=entry.action,
                subject=entry.subject,
                ip_hash=entry.ip_hash,
                details=entry.details,
            )
        )
    assert verify_chain(rewritten) is None
    trusted_head = CHAIN[6]
    assert verify_chain(rewritten[7:], anchor=trusted_head) == BrokenLink(
        8, BreakReason.PREV_MISMATCH
    )


def test_verification_continues_from_an_anchor() -> None:
    assert verify_chain(CHAIN[6:], anchor=CHAIN[5]) is None
    assert verify_chain(CHAIN[7:], anchor=CHAIN[5]) == BrokenLink(8, BreakReason.GAP)
    # Without an anchor a log must start at the beginning.
    assert verify_chain(CHAIN[6:]) == BrokenLink(7, BreakReason.GAP)


def test_a_malformed_document_is_reported_at_its_place() -> None:
    documents = [to_document(entry) for entry in CHAIN]
    documents[7]["details"] = {"nested": {"too": "deep"}}
    documents[9]["action"] = "no_such_action"
    assert verify_chain(documents) == BrokenLink(8, BreakReason.MALFORMED)
    del documents[2]["hash"]
    assert verify_chain(documents) == BrokenLink(3, BreakReason.MALFORMED)


@pytest.mark.parametrize(
    "details",
    [
        {"nested": {"a": 1}},
        {"list": [1, 2]},
        {"long": "x" * 201},
        {"ratio": 0.5},
        {"missing": None},
        {"huge": 2**63},
        {"Bad-Key": 1},
        {"": 1},
        {f"k{n}": n for n in range(17)},
    ],
)
def test_details_must_be_small_and_flat(details: dict[str, Any]) -> None:
    with pytest.raises(InvalidAuditEntry):
        new_entry(None, at=START, actor=None, action=AuditAction.LOGIN, details=details)


def test_details_are_frozen() -> None:
    source = {"attempt": 1}
    entry = new_entry(None, at=START, actor=None, action=AuditAction.LOGIN, details=source)
    source["attempt"] = 2
    assert entry.details == {"attempt": 1}
    with pytest.raises(TypeError):
        entry.details["attempt"] = 3  # type: ignore[index]


def test_times_are_aware_utc_milliseconds() -> None:
    with pytest.raises(InvalidAuditEntry, match="timezone-aware"):
        new_entry(None, at=datetime(2026, 1, 1), actor=None, action=AuditAction.LOGIN)  # noqa: DTZ001
    brussels = timezone(timedelta(hours=1))
    entry = new_entry(
        None,
        at=datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=brussels),
        actor=None,
        action=AuditAction.LOGIN,
    )
    assert entry.at == datetime(2026, 1, 1, 9, 0, 0, 123000, tzinfo=UTC)
    assert entry.at.tzinfo is UTC


def test_unknown_actions_and_bad_hashes_are_refused() -> None:
    with pytest.raises(InvalidAuditEntry, match="action"):
        dataclasses.replace(CHAIN[0], action="exploded")  # type: ignore[arg-type]
    with pytest.raises(InvalidAuditEntry, match="hash"):
        dataclasses.replace(CHAIN[0], hash="ABC")


async def test_a_chain_survives_mongodb(db: AsyncDatabase[dict[str, Any]]) -> None:
    collection = db["moderation_audit_roundtrip"]
    await collection.insert_many([to_document(entry) for entry in CHAIN])
    stored = await collection.find({}).sort("seq", 1).to_list()
    assert [from_document(doc) for doc in stored] == CHAIN
    assert verify_chain(stored) is None
