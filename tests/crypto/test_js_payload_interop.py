"""The typed payload codec's JavaScript twin (e2e_crypto/js/carechat-payloads.mjs)
against e2e_crypto/client/payloads.py: the same canonical bytes for every type (the
franking commitment covers them), the same decoding, the same refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from e2e_crypto.client.payloads import (
    Attachment,
    BookingInvitation,
    ClosingSummary,
    PaidChatOffer,
    PanelQuestion,
    Payload,
    RenewalRequest,
    ReportToGp,
    Text,
    Unsupported,
    decode_payload,
    encode_payload,
)
from tests.crypto.test_js_care_interop import run_js

# Quotes, backslashes, controls, non-ASCII, an emoji, U+2028 and DEL: every escape rule.
TRICKY = 'Dr "Ünal" \\ line\nnext\ttab \x01\x1f \u2028 \u00e9t\u00e9 \U0001f600 \x7f'

PAYLOADS: list[Payload] = [
    Text(TRICKY),
    Text("Bonjour"),
    RenewalRequest("Amoxicilline", "500 mg", "Pharmacie du Centre", None),
    RenewalRequest("Ibuprofen", "400 mg", "Apotheek", TRICKY),
    BookingInvitation(
        "practice",
        "Cabinet Médical",
        (
            datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
            datetime(2026, 12, 2, 14, 0, tzinfo=timezone(timedelta(hours=1))),
        ),
        "https://book.example/slots?x=1&y=2",
        None,
    ),
    BookingInvitation("practitioner", "Dr Peeters", (), "https://book.example", "à bientôt"),
    ReportToGp("Seen for a cough; no fever.", "Dr Janssens", "janssens@example.org"),
    ClosingSummary("Rest and fluids", None),
    ClosingSummary(TRICKY, "Call back in a week"),
    Attachment("att-1", "scan é.pdf", "application/pdf", 150_000, bytes(range(32)), bytes(32)),
    PanelQuestion("40-49", "toux", "3 jours", ("asthme", "fumeur"), TRICKY, 3),
    PanelQuestion("0-9", "fever", "today", (), "", 1),
    PaidChatOffer(2500, "EUR", None),
    PaidChatOffer(1, "EUR", "24 h"),
]


def _page_json(payload: Payload) -> dict[str, Any]:
    """The object a page passes: the payload's JSON with its type tag, without "v"."""
    doc: dict[str, Any] = json.loads(encode_payload(payload))
    del doc["v"]
    return doc


def test_js_encodes_every_type_to_pythons_bytes_and_decodes_them_back() -> None:
    encoded = run_js(*({"op": "encode_payload", "payload": _page_json(p)} for p in PAYLOADS))
    for payload, result in zip(PAYLOADS, encoded, strict=True):
        assert result["ok"], result
        assert bytes.fromhex(result["body"]) == encode_payload(payload), payload.t
    decoded = run_js(*({"op": "decode_payload", "body": encode_payload(p).hex()} for p in PAYLOADS))
    for payload, result in zip(PAYLOADS, decoded, strict=True):
        assert result["payload"] == _page_json(payload)
        assert decode_payload(encode_payload(payload)) == payload


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not a JSON document"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"body": "x"}', "no type tag or version"),
        (b'{"t": "poll", "v": 1}', "unknown payload type"),
        (b'{"body": "x", "t": "text", "v": 2}', "unsupported payload version"),
        (b'{"body": "x", "extra": 1, "t": "text", "v": 1}', "missing or unexpected fields"),
        (b'{"body": "   ", "t": "text", "v": 1}', "invalid text"),
        (b'{"body": 5, "t": "text", "v": 1}', "invalid text"),
    ],
)
def test_both_decoders_refuse_the_same_bodies(body: bytes, reason: str) -> None:
    python = decode_payload(body)
    assert isinstance(python, Unsupported)
    assert python.reason.startswith(reason)
    (js,) = run_js({"op": "decode_payload", "body": body.hex()})
    assert js["payload"]["t"] == "unsupported"
    assert js["payload"]["reason"].startswith(reason)


@pytest.mark.parametrize(
    "payload",
    [
        {"t": "text", "body": ""},
        {"t": "text", "body": "x" * 10_001},
        {"t": "booking_invitation", "provider_kind": "practice", "provider_name": "A"},
        {
            "t": "booking_invitation",
            "provider_kind": "practice",
            "provider_name": "A",
            "url": "http://insecure.example",
        },
        {
            "t": "attachment",
            "attachment_id": "a",
            "name": "n",
            "mime": "text/plain",
            "size": 1,
            "key": "AA",
            "digest": "AA",
        },
        {"t": "unsupported", "reason": "x"},
    ],
)
def test_js_refuses_to_encode_what_python_refuses(payload: dict[str, Any]) -> None:
    (result,) = run_js({"op": "encode_payload", "payload": payload})
    assert result == {"ok": False, "error": "PayloadError"}
