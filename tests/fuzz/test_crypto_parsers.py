"""Every binary parser of ``e2e_crypto``: any bytes parse or raise ``MalformedData``, and
a changed byte of a signed structure never verifies (docs/protocol.md §1).

The samples are the committed known-answer vectors (``tests/data``), so each parser
starts from bytes the JavaScript twin agrees on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2e_crypto.attachments import parse_attachment_ref
from e2e_crypto.backup import open_backup
from e2e_crypto.broadcast_public import (
    parse_broadcast,
    parse_slip,
    verify_broadcast_signature,
    verify_slip_signature,
)
from e2e_crypto.errors import CryptoError, DecryptionFailed, MalformedData
from e2e_crypto.groups_public import parse_epoch_commit, verify_epoch_commit
from e2e_crypto.keys import RootKey
from e2e_crypto.membership import sign_membership
from e2e_crypto.membership_public import (
    Member,
    MemberRole,
    parse_membership,
    verify_membership,
)
from e2e_crypto.public import PublicSigningKey, parse_device_certificate, verify_device_certificate
from e2e_crypto.thread_opening import sign_opening
from e2e_crypto.thread_opening_public import ProviderKind, parse_opening, verify_opening
from e2e_crypto.wire import (
    from_base64url,
    parse_envelope,
    parse_header,
    to_base64url,
    verify_envelope_signature,
)
from tests.crypto.vectors import account, device_json, load
from tests.fuzz.inputs import FUZZ, mutations


def _signing_key(account_id: str, device_id: str) -> PublicSigningKey:
    return PublicSigningKey(bytes.fromhex(device_json(account_id, device_id)["signing_public"]))


def _root_key(account_id: str) -> PublicSigningKey:
    return PublicSigningKey(bytes.fromhex(account(account_id)["root_public"]))


_ENVELOPE = bytes.fromhex(load("envelope")["envelope"])
_BROADCAST = load("broadcast")
_BODY = bytes.fromhex(_BROADCAST["body"])
_SENDER = _signing_key(_BROADCAST["sender"]["account_id"], _BROADCAST["sender"]["device_id"])


def _verify_envelope(data: bytes) -> None:
    verify_envelope_signature(parse_envelope(data), _signing_key("patient-alice", "phone"))


def _verify_certificate(data: bytes) -> None:
    verify_device_certificate(data, account_id="patient-alice", root_key=_root_key("patient-alice"))


def _verify_commit(data: bytes) -> None:
    admin = load("group")["admin_account"]
    verify_epoch_commit(data, admin_account=admin, admin_root_key=_root_key(admin), previous=None)


_PRACTICE_ADMIN = RootKey.generate()
_MEMBERSHIP = sign_membership(
    _PRACTICE_ADMIN,
    admin_account="practice-admin",
    practice_id="practice-1",
    members=[Member("doctor-bob", MemberRole.PRACTITIONER), Member("nurse-eve", MemberRole.STAFF)],
    previous=None,
).encode()


def _verify_membership(data: bytes) -> None:
    verify_membership(
        data,
        practice_id="practice-1",
        admin_account="practice-admin",
        admin_root_key=_PRACTICE_ADMIN.public_key,
        previous=None,
    )


_PATIENT = RootKey.generate()
_OPENING = sign_opening(
    _PATIENT,
    thread_id="thread-1",
    patient_account="patient-alice",
    provider_kind=ProviderKind.PRACTICE,
    provider_id="practice-1",
    opened_at=1_700_000_000,
).encode()


def _verify_opening(data: bytes) -> None:
    verify_opening(data, thread_id="thread-1", patient_root_key=_PATIENT.public_key)


def _verify_broadcast(data: bytes) -> None:
    verify_broadcast_signature(parse_broadcast(data), _SENDER)


def _verify_slip(data: bytes) -> None:
    verify_slip_signature(parse_slip(data), _SENDER, parse_broadcast(_BODY))


@dataclass(frozen=True)
class Parser:
    name: str
    parse: Callable[[bytes], Any]
    sample: bytes
    verify: Callable[[bytes], None] | None  # the public check of a signed structure


PARSERS = [
    Parser("envelope", parse_envelope, _ENVELOPE, _verify_envelope),
    Parser("envelope header", parse_header, parse_envelope(_ENVELOPE).header_bytes, None),
    Parser(
        "device certificate",
        parse_device_certificate,
        bytes.fromhex(device_json("patient-alice", "phone")["certificate"]),
        _verify_certificate,
    ),
    Parser(
        "epoch commit",
        parse_epoch_commit,
        bytes.fromhex(load("group")["commits"][0]),
        _verify_commit,
    ),
    Parser("membership list", parse_membership, _MEMBERSHIP, _verify_membership),
    Parser("thread opening", parse_opening, _OPENING, _verify_opening),
    Parser("broadcast body", parse_broadcast, _BODY, _verify_broadcast),
    Parser(
        "broadcast slip", parse_slip, bytes.fromhex(_BROADCAST["slips"][0]["slip"]), _verify_slip
    ),
    Parser(
        "attachment reference",
        parse_attachment_ref,
        bytes.fromhex(load("attachment")["small"]["ref"]),
        None,
    ),
]
_BY_NAME = {parser.name: parser for parser in PARSERS}
NAMES = sorted(_BY_NAME)


@pytest.mark.parametrize("name", NAMES)
def test_the_sample_parses_verifies_and_re_encodes_to_itself(name: str) -> None:
    parser = _BY_NAME[name]
    assert parser.parse(parser.sample).encode() == parser.sample
    if parser.verify is not None:
        parser.verify(parser.sample)


def _parse_or_refuse(parser: Parser, data: bytes) -> None:
    """Parsing succeeds and re-encodes to the same bytes, or raises MalformedData."""
    try:
        parsed = parser.parse(data)
    except MalformedData:
        return
    assert parsed.encode() == data, parser.name  # one encoding per structure


@pytest.mark.parametrize("name", NAMES)
@settings(FUZZ, max_examples=60)
@given(data=st.binary(max_size=1024))
def test_any_bytes_parse_or_raise_malformed_data(name: str, data: bytes) -> None:
    _parse_or_refuse(_BY_NAME[name], data)


@pytest.mark.parametrize("name", NAMES)
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_a_changed_sample_is_malformed_or_does_not_verify(name: str, data: st.DataObject) -> None:
    parser = _BY_NAME[name]
    changed = data.draw(mutations(parser.sample), label="changed")
    _parse_or_refuse(parser, changed)
    if parser.verify is not None:
        with pytest.raises(CryptoError):
            parser.verify(changed)


@settings(FUZZ, max_examples=300)
@given(text=st.text(max_size=200) | st.binary(max_size=150).map(to_base64url))
def test_base64url_decodes_or_raises_malformed_data(text: str) -> None:
    try:
        decoded = from_base64url(text)
    except MalformedData:
        return
    assert to_base64url(decoded) == text  # canonical: no padding, no spare bits


@settings(FUZZ, max_examples=100)
@given(blob=st.binary(max_size=200))
def test_any_bytes_as_a_key_backup_fail_to_open(blob: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        open_backup(blob, load("backup")["passphrase"])


@settings(FUZZ, max_examples=6)
@given(data=st.data())
def test_a_changed_key_backup_fails_to_open(data: st.DataObject) -> None:
    """Few examples: each one that keeps the header runs argon2id (64 MiB)."""
    vector = load("backup")
    blob = bytes.fromhex(vector["blob"])
    prefix = 4 + 1 + 1 + 4 + 4  # magic, version, algorithm, cost limits: not changed
    changed = blob[:prefix] + data.draw(mutations(blob[prefix:]), label="rest")
    with pytest.raises(DecryptionFailed):
        open_backup(changed, vector["passphrase"])
