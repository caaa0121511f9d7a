"""The server's one-pass envelope reader (``route_envelope``) and base64url decoder agree
with their definitions: ``parse_envelope`` (what it accepts, refuses and reads) and the
regular-expression-and-re-encoding decoder they replaced on the send path."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2e_crypto.codec import Writer
from e2e_crypto.envelope import seal_message
from e2e_crypto.errors import CryptoError, MalformedData
from e2e_crypto.public import PublicEncryptionKey
from e2e_crypto.wire import (
    FRANKING_KEY_BYTES,
    DeviceRecipient,
    EpochRecipient,
    GroupRef,
    Header,
    Kind,
    ParsedEnvelope,
    Recipient,
    from_base64url,
    parse_envelope,
    route_envelope,
    to_base64url,
)
from tests.crypto import vectors as v
from tests.crypto.people import Person


def _agree(data: bytes) -> None:
    try:
        parsed = parse_envelope(data)
    except CryptoError:
        with pytest.raises(MalformedData):
            route_envelope(data)
        return
    header, route = parsed.header, route_envelope(data)
    assert (route.kind, route.thread_id, route.client_msg_id) == (
        header.kind,
        header.thread_id,
        header.client_msg_id,
    )
    assert (route.sender_account, route.sender_device) == (
        header.sender_account,
        header.sender_device,
    )
    assert route.grouped == (header.group is not None)
    assert route.devices == {
        (r.account_id, r.device_id, r.encryption_key.raw) for r in header.device_recipients()
    }
    assert route.epochs == sum(1 for _ in header.epoch_recipients())
    assert route.franking_commitment == header.franking_commitment


def _key(n: int) -> PublicEncryptionKey:
    return PublicEncryptionKey(bytes([n]) * 32)


def _crafted(recipients: tuple[Recipient, ...], group: GroupRef | None = None) -> bytes:
    """A structurally valid envelope of any shape (nothing in it is real crypto)."""
    header = Header(
        kind=Kind.REPORT_TO_GP,
        thread_id="t-1",
        client_msg_id="c-1",
        sender_account="acct",
        sender_device="dev",
        group=group,
        recipients=recipients,
        key_commitment=bytes(range(32)),
        franking_commitment=bytes(range(32, 64)),
    )
    return ParsedEnvelope(
        header,
        header.encode(),
        bytes(24),
        bytes(FRANKING_KEY_BYTES + 16),
        tuple(bytes([i]) * 80 for i in range(len(recipients))),
        bytes(64),
    ).encode()


def _sealed() -> bytes:
    p, q = Person.new("pat", "p1", "p2"), Person.new("doc", "d1")
    return seal_message(
        p.device,
        thread_id="thread-9",
        client_msg_id="cmid-9",
        body=b"hello",
        to_devices=[*p.all_verified(), q.verified()],
    )


_SEALED = _sealed()
_GROUPED = _crafted(
    (DeviceRecipient("a", "d", _key(1)), EpochRecipient("g", 7, _key(2))), GroupRef("g", 7)
)


def test_real_and_crafted_envelopes_read_the_same() -> None:
    _agree(_SEALED)
    _agree(_GROUPED)
    _agree(_crafted(tuple(DeviceRecipient("a", f"d{i}", _key(i + 1)) for i in range(64))))


def _device(account: str, device: str, key: int) -> bytes:
    return bytes(Writer().u8(1).ident(account, "a").ident(device, "d").raw(bytes([key]) * 32))


def _epoch(group: str, epoch: int, key: int) -> bytes:
    return bytes(Writer().u8(2).ident(group, "g").u32(epoch).raw(bytes([key]) * 32))


def _raw(slots: list[bytes]) -> bytes:
    """An envelope with these recipient slots, built below Header's own checks."""
    header = Writer().u8(1).u8(1).ident("t", "t").ident("c", "c").ident("a", "a")
    header.ident("d", "d").u8(0).u16(len(slots))
    header.raw(b"".join(slots)).raw(bytes(range(64)))
    wraps = bytes(80) * len(slots)
    return bytes(
        Writer().blob32(bytes(header)).raw(bytes(24)).blob32(bytes(48)).raw(wraps).raw(bytes(64))
    )


@pytest.mark.parametrize(
    "slots",
    [
        [_device("a", "d", 1), _device("a", "d", 2)],  # one device twice
        [_device("a", "d", 1), _device("b", "d", 1)],  # one key twice
        [_epoch("g", 1, 1), _epoch("g", 1, 2)],  # one epoch twice
        [_device("a", "d", 1), _epoch("g", 1, 1)],  # a device key as an epoch key
        [_device("a", "d", 0)],  # the all-zero key
        [_epoch("g", 0, 1)],  # epochs count from 1
    ],
)
def test_bad_recipients_refused_alike(slots: list[bytes]) -> None:
    assert parse_envelope(_raw(slots[:1] if len(slots) > 1 else [_device("a", "d", 1)]))
    with pytest.raises(MalformedData):
        parse_envelope(_raw(slots))
    with pytest.raises(MalformedData):
        route_envelope(_raw(slots))


def test_structural_refusal_vectors_refused_alike() -> None:
    cases = v.load("refusals")["envelope"]["cases"]
    structural = [c for c in cases if c["structural"]]
    assert structural
    for case in structural:
        _agree(bytes.fromhex(case["envelope"]))
    for case in cases:  # the others are refused by the signature or AEAD, not the layout
        _agree(bytes.fromhex(case["envelope"]))


@settings(max_examples=400, deadline=None)
@given(
    sample=st.sampled_from([_SEALED, _GROUPED]),
    at=st.integers(min_value=0, max_value=700),
    junk=st.binary(min_size=1, max_size=8),
    cut=st.booleans(),
)
def test_mangled_envelopes_read_the_same(sample: bytes, at: int, junk: bytes, cut: bool) -> None:
    if cut:
        _agree(sample[:at])
        _agree(sample + junk)
    _agree(sample[:at] + junk + sample[at + len(junk) :])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_read_the_same(data: bytes) -> None:
    _agree(data)


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _reference_b64(text: str) -> bytes:
    """The decoder's definition (and its code before it was made one pass)."""
    if _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise MalformedData("refused")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if to_base64url(data) != text:
        raise MalformedData("refused")
    return data


_B64_NOISE = st.text(
    alphabet=st.sampled_from(
        list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= \n.é\x00")
    ),
    max_size=40,
)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(_B64_NOISE, st.binary(max_size=40).map(to_base64url)))
def test_base64url_decoder_matches_its_definition(text: str) -> None:
    try:
        expected = _reference_b64(text)
    except (MalformedData, ValueError):
        with pytest.raises(MalformedData):
            from_base64url(text)
        return
    assert from_base64url(text) == expected
