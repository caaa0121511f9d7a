"""Structural parsing, identifiers, limits and base64url (the server's view)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2e_crypto.codec import check_id
from e2e_crypto.envelope import seal_message
from e2e_crypto.errors import CryptoError, MalformedData
from e2e_crypto.keys import DeviceKeys, RootKey
from e2e_crypto.wire import (
    MAX_ENVELOPE_B64_CHARS,
    MAX_ENVELOPE_BYTES,
    MAX_RECIPIENTS,
    Kind,
    from_base64url,
    parse_envelope,
    parse_header,
    to_base64url,
)
from tests.crypto.people import Person


@pytest.mark.parametrize("good", ["a", "A-z_09", "x" * 64])
def test_valid_identifiers(good: str) -> None:
    assert check_id(good, "id") == good


@pytest.mark.parametrize("bad", ["", "x" * 65, "a b", "é", "a/b", "a.b", "\uff41"])
def test_invalid_identifiers_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(MalformedData) as info:
        check_id(bad, "thread id")
    assert "thread id" in str(info.value)
    assert bad not in str(info.value) or bad == ""


def test_header_fields_visible_to_server(alice: Person, bob: Person) -> None:
    envelope = seal_message(
        alice.device,
        thread_id="t-1",
        client_msg_id="c-1",
        body=b"secret",
        to_devices=[bob.verified(), *alice.all_verified()],
        kind=Kind.SYSTEM,
    )
    parsed = parse_envelope(envelope)
    header = parsed.header
    assert (header.thread_id, header.client_msg_id, header.kind) == ("t-1", "c-1", Kind.SYSTEM)
    assert (header.sender_account, header.sender_device) == ("patient-alice", "phone")
    assert [(r.account_id, r.device_id) for r in header.device_recipients()] == [
        ("dr-bob", "desk"),
        ("patient-alice", "phone"),
        ("patient-alice", "laptop"),
    ]
    assert parse_header(parsed.header_bytes) == header
    assert parsed.encode() == envelope
    assert b"secret" not in envelope


def test_too_many_recipients_refused(alice: Person) -> None:
    root = RootKey.generate()
    many = []
    for i in range(MAX_RECIPIENTS + 1):
        device = DeviceKeys.generate("acct", f"d{i}")
        many.append(device.verified(root.certify(device), root.public_key))
    seal_message(alice.device, thread_id="t", client_msg_id="c", body=b"", to_devices=many[:-1])
    with pytest.raises(MalformedData):
        seal_message(alice.device, thread_id="t", client_msg_id="c", body=b"", to_devices=many)


def test_duplicate_recipient_refused(alice: Person, bob: Person) -> None:
    with pytest.raises(MalformedData):
        seal_message(
            alice.device,
            thread_id="t",
            client_msg_id="c",
            body=b"",
            to_devices=[bob.verified(), bob.verified()],
        )


def test_max_envelope_fits_a_64k_websocket_frame(alice: Person, bob: Person) -> None:
    with pytest.raises(MalformedData):
        seal_message(
            alice.device,
            thread_id="t",
            client_msg_id="c",
            body=bytes(MAX_ENVELOPE_BYTES),
            to_devices=[bob.verified()],
        )
    envelope = seal_message(
        alice.device,
        thread_id="t" * 64,
        client_msg_id="c" * 64,
        body=bytes(MAX_ENVELOPE_BYTES - 1000),
        to_devices=[bob.verified()],
    )
    assert len(envelope) <= MAX_ENVELOPE_BYTES
    text = to_base64url(bytes(MAX_ENVELOPE_BYTES))
    assert len(text) <= MAX_ENVELOPE_B64_CHARS
    frame = {"type": "send", "id": "x" * 64, "thread": "t" * 64, "client_msg_id": "c" * 64}
    frame["envelope"] = text
    assert len(json.dumps(frame).encode()) < 64 * 1024
    with pytest.raises(MalformedData):
        parse_envelope(envelope + bytes(MAX_ENVELOPE_BYTES))


def test_base64url_is_strict_and_canonical() -> None:
    data = bytes(range(256))
    assert from_base64url(to_base64url(data)) == data
    assert "=" not in to_base64url(b"ab")
    for bad in ["YWI=", "YW I", "YW+", "YW/", "Y", "YR"]:  # padding, space, std alphabet, bits
        with pytest.raises(MalformedData):
            from_base64url(bad)
    with pytest.raises(MalformedData):
        from_base64url("A" * (MAX_ENVELOPE_B64_CHARS + 4))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parser_never_raises_foreign_errors(data: bytes) -> None:
    try:
        parse_envelope(data)
    except CryptoError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_base64url_decoder_never_raises_foreign_errors(text: str) -> None:
    try:
        from_base64url(text)
    except CryptoError:
        pass


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.integers(min_value=0, max_value=400),
    junk=st.binary(min_size=1, max_size=64),
)
def test_parser_on_mangled_real_envelopes(prefix: int, junk: bytes) -> None:
    mangled = _SAMPLE[:prefix] + junk + _SAMPLE[prefix + len(junk) :]
    try:
        parse_envelope(mangled)
    except CryptoError:
        pass


def _sample() -> bytes:
    p, q = Person.new("p", "p1"), Person.new("q", "q1")
    return seal_message(
        p.device, thread_id="t", client_msg_id="c", body=b"x", to_devices=[q.verified()]
    )


_SAMPLE = _sample()
