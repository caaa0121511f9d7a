"""Sealing and opening chat envelopes: every check, one error, no oracle."""

from __future__ import annotations

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2e_crypto._randomness import SYSTEM
from e2e_crypto.domains import KEY_COMMITMENT_PERSON, derive
from e2e_crypto.envelope import open_message, seal_message
from e2e_crypto.errors import CryptoError, DecryptionFailed
from e2e_crypto.wire import (
    GroupRef,
    Header,
    ParsedEnvelope,
    parse_envelope,
    verify_envelope_signature,
)
from tests.crypto.people import Person

P = Person.new("patient-p", "p1", "p2")
Q = Person.new("dr-q", "q1")
OUTSIDER = Person.new("outsider", "o1")
BODY = b'{"type":"text","text":"my test results?"}'
ENVELOPE = seal_message(
    P.device,
    thread_id="th",
    client_msg_id="m1",
    body=BODY,
    to_devices=[Q.verified(), *P.all_verified()],
)


def _open(envelope: bytes, **overrides: object) -> bytes:
    kwargs: dict[str, object] = {
        "opener": Q.device,
        "sender": P.verified("p1"),
        "thread_id": "th",
        "client_msg_id": "m1",
    }
    kwargs.update(overrides)
    return open_message(envelope, **kwargs).body  # type: ignore[arg-type]


def test_every_recipient_opens_the_same_plaintext() -> None:
    assert _open(ENVELOPE) == BODY
    for device in P.keys.devices:
        assert _open(ENVELOPE, opener=device) == BODY


def test_franking_key_is_returned_and_bound() -> None:
    opened = open_message(
        ENVELOPE, opener=Q.device, sender=P.verified("p1"), thread_id="th", client_msg_id="m1"
    )
    assert len(opened.franking_key) == 32
    assert opened.franking_key.hex() not in repr(opened)
    assert BODY.decode() not in repr(opened)


def test_two_seals_never_repeat_key_or_nonce() -> None:
    again = seal_message(
        P.device, thread_id="th", client_msg_id="m1", body=BODY, to_devices=[Q.verified()]
    )
    a, b = parse_envelope(ENVELOPE), parse_envelope(again)
    assert a.nonce != b.nonce
    assert a.header.key_commitment != b.header.key_commitment


@pytest.mark.parametrize(
    "overrides",
    [
        {"opener": OUTSIDER.device},
        {"thread_id": "other-thread"},
        {"client_msg_id": "m2"},
        {"sender": Q.verified()},
        {"sender": P.verified("p2")},
        {"group": GroupRef("g", 1)},
    ],
    ids=["not-a-recipient", "thread", "client-msg-id", "other-sender", "sender-device", "group"],
)
def test_every_failed_check_is_the_same_error(overrides: dict[str, object]) -> None:
    with pytest.raises(DecryptionFailed) as info:
        _open(ENVELOPE, **overrides)
    assert str(info.value) == DecryptionFailed.MESSAGE
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_every_single_byte_change_is_refused_by_open_and_by_the_server_path() -> None:
    sender_key = P.verified("p1").signing_key
    for index in range(len(ENVELOPE)):
        tampered = bytearray(ENVELOPE)
        tampered[index] ^= 0x01
        with pytest.raises(DecryptionFailed):
            _open(bytes(tampered))
        with pytest.raises(CryptoError):
            verify_envelope_signature(parse_envelope(bytes(tampered)), sender_key)


@settings(max_examples=120, deadline=None)
@given(index=st.integers(min_value=0), delta=st.integers(min_value=1, max_value=255))
def test_any_byte_value_change_is_refused(index: int, delta: int) -> None:
    tampered = bytearray(ENVELOPE)
    tampered[index % len(ENVELOPE)] ^= delta
    with pytest.raises(DecryptionFailed):
        _open(bytes(tampered))


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0), extra=st.binary(min_size=1, max_size=8))
def test_truncated_or_extended_envelopes_are_refused(cut: int, extra: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        _open(ENVELOPE[: cut % len(ENVELOPE)])
    with pytest.raises(DecryptionFailed):
        _open(ENVELOPE + extra)


def _resign(
    parsed: ParsedEnvelope,
    header: Header | None = None,
    wraps: tuple[bytes, ...] | None = None,
    ciphertext: bytes | None = None,
) -> bytes:
    """What a malicious *sender* can do: build anything and sign it validly."""
    header = header or parsed.header
    header_bytes = header.encode()
    unsigned = ParsedEnvelope(
        header,
        header_bytes,
        parsed.nonce,
        ciphertext or parsed.ciphertext,
        wraps or parsed.wraps,
        bytes(64),
    )
    signature = P.device._sign(unsigned.signed_message())
    return ParsedEnvelope(
        header, header_bytes, unsigned.nonce, unsigned.ciphertext, unsigned.wraps, signature
    ).encode()


def test_key_commitment_stops_a_sender_giving_recipients_different_keys() -> None:
    parsed = parse_envelope(ENVELOPE)
    # Invisible-salamander style: wrap a different key for Q. The signature is valid
    # (the sender signs anything), so only the key commitment catches it.
    other_key = SYSTEM.random_bytes(32)
    wraps = (SYSTEM.seal(other_key, Q.device.encryption_key.raw), *parsed.wraps[1:])
    with pytest.raises(DecryptionFailed):
        _open(_resign(parsed, wraps=wraps))
    assert derive(other_key, KEY_COMMITMENT_PERSON) != parsed.header.key_commitment
    assert _open(_resign(parsed)) == BODY  # the re-signing itself is sound


def test_a_bogus_franking_commitment_is_refused_so_reports_always_verify() -> None:
    parsed = parse_envelope(ENVELOPE)
    h = parsed.header
    forged = Header(
        h.kind,
        h.thread_id,
        h.client_msg_id,
        h.sender_account,
        h.sender_device,
        h.group,
        h.recipients,
        h.key_commitment,
        bytes(32),
    )
    # The header is AAD, so re-encrypt under the same key to isolate the franking check.
    content_key = Q.device._unseal(parsed.wraps[0])
    payload = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        parsed.ciphertext, parsed.header_bytes, parsed.nonce, content_key
    )
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        payload, forged.encode(), parsed.nonce, content_key
    )
    with pytest.raises(DecryptionFailed):
        _open(_resign(parsed, header=forged, ciphertext=ciphertext))
