"""Payloads inside the encryption: canonical bytes, round trips, strict total decoding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from e2e_crypto.attachments import encrypt_stream
from e2e_crypto.client import (
    Attachment,
    BookingInvitation,
    ClosingSummary,
    Payload,
    RenewalRequest,
    ReportToGp,
    Text,
    Unsupported,
    decode_payload,
    encode_payload,
)
from e2e_crypto.client.payloads import PayloadError


def _attachment() -> Attachment:
    stream = encrypt_stream([b"scan" * 1000])
    for _ in stream:
        pass
    return Attachment.of("att123", "scan.pdf", "application/pdf", stream.ref)


SLOT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EXAMPLES: list[Payload] = [
    Text("Bonjour docteur, ça va mieux 👍"),
    _attachment(),
    RenewalRequest("Amlodipine", "5 mg once a day", "Pharmacie du Parc, Bruxelles"),
    RenewalRequest("Metformin", "500 mg", "Apotheek Noord", note="Same as last time"),
    BookingInvitation("practice", "Cabinet Louise", slots=(SLOT, SLOT + timedelta(hours=2))),
    BookingInvitation("practitioner", "Dr Peeters", url="https://book.example/peeters"),
    ReportToGp("Mild viral infection; rest.", "Dr Janssens", "janssens@example.be"),
    ClosingSummary("Resolved.", follow_up="Come back if fever > 3 days"),
]


@pytest.mark.parametrize("payload", EXAMPLES, ids=lambda p: type(p).__name__)
def test_every_type_round_trips_canonically(payload: Payload) -> None:
    encoded = encode_payload(payload)
    assert decode_payload(encoded) == payload
    assert encode_payload(decode_payload(encoded)) == encoded


def test_the_encoding_is_the_documented_one() -> None:
    assert encode_payload(Text("hi")) == b'{"body":"hi","t":"text","v":1}'
    assert encode_payload(Text("é")) == '{"body":"é","t":"text","v":1}'.encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not a JSON document"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"body": "x"}', "no type tag or version"),
        (b'{"t": "text", "v": true, "body": "x"}', "no type tag or version"),
        (b'{"t": "poll", "v": 1, "question": "?"}', "unknown payload type"),
        (b'{"t": "text", "v": 2, "body": "x"}', "unsupported payload version"),
        (b'{"t": "text", "v": 1}', "missing or unexpected fields"),
        (b'{"t": "text", "v": 1, "body": "x", "extra": 1}', "missing or unexpected fields"),
        (b'{"t": "text", "v": 1, "body": 5}', "invalid text"),
        (b'{"t": "text", "v": 1, "body": "  "}', "invalid text"),
        (b'{"t": "text", "v": 1, "body": NaN}', "not a JSON document"),
        (b"[" * 100_000, "not a JSON document"),
    ],
)
def test_decoding_never_raises(raw: bytes, reason: str) -> None:
    decoded = decode_payload(raw)
    assert isinstance(decoded, Unsupported)
    assert decoded.reason.startswith(reason)


def test_invalid_known_payloads_are_unsupported_not_crashes() -> None:
    good = encode_payload(_attachment()).decode()
    assert isinstance(
        decode_payload(good.replace('"size":4000', '"size":-1').encode()), Unsupported
    )
    bad_key = decode_payload(good.replace('"key":"', '"key":"!').encode())
    assert isinstance(bad_key, Unsupported)
    naive = b'{"t":"booking_invitation","v":1,"provider_kind":"practice","provider_name":"X",'
    naive += b'"slots":["2026-03-02T09:30:00"],"url":null,"note":null}'
    assert isinstance(decode_payload(naive), Unsupported)


def test_constructors_refuse_what_decoding_would_refuse() -> None:
    with pytest.raises(PayloadError):
        Text("")
    with pytest.raises(PayloadError):
        Text("x" * 10_001)
    with pytest.raises(PayloadError):
        RenewalRequest("", "5 mg", "P")
    with pytest.raises(PayloadError):
        BookingInvitation("practice", "Cabinet")  # neither slots nor url
    with pytest.raises(PayloadError):
        BookingInvitation("practice", "Cabinet", url="http://plain.example")
    with pytest.raises(PayloadError):
        BookingInvitation("practice", "Cabinet", slots=(datetime(2026, 1, 1),))  # noqa: DTZ001
    with pytest.raises(PayloadError):
        Attachment("att", "f", "nomime", 1, bytes(32), bytes(32))
    with pytest.raises(PayloadError):
        encode_payload(Unsupported("x", 1, "unknown"))
    shown = _attachment()
    assert "key=" not in repr(shown)
    assert repr(shown.key) not in repr(shown)
