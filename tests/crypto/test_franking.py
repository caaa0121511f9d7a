"""Franking reports and server stamps (what moderation imports)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from e2e_crypto.broadcast import open_broadcast, seal_broadcast
from e2e_crypto.envelope import open_message, seal_message
from e2e_crypto.errors import MalformedData, VerificationFailed
from e2e_crypto.franking import (
    FrankingKind,
    Stamper,
    stamp,
    verify_broadcast_report,
    verify_report,
    verify_stamp,
)
from e2e_crypto.wire import parse_envelope
from tests.crypto.people import Person

SENDER = Person.new("abuser", "a1")
VICTIM = Person.new("victim", "v1")
SERVER_KEY = bytes(range(32))
NOW = datetime(2026, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def _send(client_msg_id: str, body: bytes) -> tuple[bytes, bytes]:
    envelope = seal_message(
        SENDER.device,
        thread_id="t9",
        client_msg_id=client_msg_id,
        body=body,
        to_devices=[VICTIM.verified()],
    )
    opened = open_message(
        envelope,
        opener=VICTIM.device,
        sender=SENDER.verified(),
        thread_id="t9",
        client_msg_id=client_msg_id,
    )
    return envelope, opened.franking_key


ENVELOPE, FK = _send("m1", b"abusive text")
OTHER, OTHER_FK = _send("m2", b"harmless text")


def _report(
    envelope: bytes = ENVELOPE,
    *,
    body: bytes = b"abusive text",
    fk: bytes = FK,
    client_msg_id: str = "m1",
    sender: Person = SENDER,
) -> None:
    verify_report(
        envelope,
        sender_key=sender.verified().signing_key,
        thread_id="t9",
        client_msg_id=client_msg_id,
        sender_account="abuser",
        sender_device="a1",
        body=body,
        franking_key=fk,
    )


def test_genuine_report_verifies() -> None:
    _report()
    _report(parse_envelope(ENVELOPE).encode())


@pytest.mark.parametrize(
    "change",
    [
        {"body": b"abusive text!"},
        {"fk": bytes(32)},
        {"fk": OTHER_FK},
        {"envelope": OTHER},  # replayed against another message
        {"envelope": OTHER, "client_msg_id": "m2"},  # another message's record
        {"sender": VICTIM},  # not the sender's key
    ],
)
def test_forged_reports_refused(change: dict[str, object]) -> None:
    with pytest.raises(VerificationFailed):
        _report(**change)  # type: ignore[arg-type]


def test_stamp_roundtrip_and_binding() -> None:
    commitment = parse_envelope(ENVELOPE).header.franking_commitment
    fields = {
        "kind": FrankingKind.MESSAGE,
        "franking_commitment": commitment,
        "sender_account": "abuser",
        "sender_device": "a1",
        "thread_id": "t9",
        "seq": 41,
        "received_at": NOW,
    }
    value = stamp(SERVER_KEY, **fields)  # type: ignore[arg-type]
    assert len(value) == 32
    verify_stamp(SERVER_KEY, value, **fields)  # type: ignore[arg-type]
    changes: list[dict[str, object]] = [
        {"seq": 42},
        {"thread_id": "t8"},
        {"sender_device": "a2"},
        {"sender_account": "x"},
        {"received_at": NOW + timedelta(milliseconds=1)},
        {"franking_commitment": bytes(32)},
        {"kind": FrankingKind.BROADCAST},  # the same record, as a mailing's
    ]
    for change in changes:
        with pytest.raises(VerificationFailed):
            verify_stamp(SERVER_KEY, value, **{**fields, **change})  # type: ignore[arg-type]
    with pytest.raises(VerificationFailed):
        verify_stamp(bytes(32), value, **fields)  # type: ignore[arg-type]


def test_stamp_input_validation() -> None:
    with pytest.raises(MalformedData):
        stamp(
            b"short",
            kind=FrankingKind.MESSAGE,
            franking_commitment=bytes(32),
            sender_account="a",
            sender_device="b",
            thread_id="t",
            seq=1,
            received_at=NOW,
        )
    with pytest.raises(MalformedData):
        stamp(
            SERVER_KEY,
            kind=FrankingKind.MESSAGE,
            franking_commitment=bytes(32),
            sender_account="a",
            sender_device="b",
            thread_id="t",
            seq=1,
            received_at=NOW.replace(tzinfo=None),
        )
    with pytest.raises(MalformedData):
        stamp(
            SERVER_KEY,
            kind=FrankingKind.MESSAGE,
            franking_commitment=bytes(32),
            sender_account="a",
            sender_device="b",
            thread_id="t",
            seq=-1,
            received_at=NOW,
        )


def _mail(campaign_id: str, text: bytes) -> tuple[bytes, bytes]:
    sealed = seal_broadcast(
        SENDER.device,
        campaign_id=campaign_id,
        client_msg_id="m1",
        body=text,
        to_devices=[VICTIM.verified()],
    )
    opened = open_broadcast(
        sealed.body,
        sealed.slips[("victim", "v1")],
        opener=VICTIM.device,
        sender=SENDER.verified(),
        campaign_id=campaign_id,
        client_msg_id="m1",
    )
    return sealed.body, opened.franking_key


def _broadcast_report(body: bytes, fk: bytes, text: bytes, campaign_id: str = "t9") -> None:
    verify_broadcast_report(
        body,
        sender_key=SENDER.verified().signing_key,
        campaign_id=campaign_id,
        client_msg_id="m1",
        sender_account="abuser",
        sender_device="a1",
        text=text,
        franking_key=fk,
    )


def test_a_mailing_report_verifies_and_never_as_a_chat_message() -> None:
    # A mailing whose campaign id, message id, sender and text equal a chat message's.
    body, fk = _mail("t9", b"abusive text")
    _broadcast_report(body, fk, b"abusive text")
    with pytest.raises(VerificationFailed):
        _broadcast_report(body, fk, b"abusive text!")
    with pytest.raises(VerificationFailed):
        _broadcast_report(body, bytes(32), b"abusive text")
    with pytest.raises(VerificationFailed):
        _broadcast_report(body, fk, b"abusive text", campaign_id="t8")
    # The chat message's key and text, checked against the mailing: refused, and
    # the mailing's key and text against the chat message: refused.
    with pytest.raises(VerificationFailed):
        _broadcast_report(body, FK, b"abusive text")
    with pytest.raises(VerificationFailed):
        _report(body=b"abusive text", fk=fk)


@pytest.mark.parametrize("kind", list(FrankingKind))
def test_the_servers_stamper_makes_the_same_stamps(kind: FrankingKind) -> None:
    # The server stamps with its own cheaper path (subkey derived once, hashlib's
    # BLAKE2b); a stamp it makes must be the library's v2 stamp byte for byte, for
    # both kinds, and never verify as the other kind's.
    stamper = Stamper(SERVER_KEY)
    other = FrankingKind.BROADCAST if kind is FrankingKind.MESSAGE else FrankingKind.MESSAGE
    for seq, account, when, key in [
        (0, "a", NOW, SERVER_KEY),
        (41, "abuser", NOW + timedelta(days=400), SERVER_KEY),
        (2**63 - 1, "x" * 64, NOW.replace(microsecond=999_999), bytes(range(64))),
    ]:
        fields = {
            "kind": kind,
            "franking_commitment": bytes(range(32)),
            "sender_account": account,
            "sender_device": "d-1",
            "thread_id": "t_9",
            "seq": seq,
            "received_at": when,
        }
        value = Stamper(key)(**fields)  # type: ignore[arg-type]
        assert value == stamp(key, **fields)  # type: ignore[arg-type]
        verify_stamp(key, value, **fields)  # type: ignore[arg-type]
        with pytest.raises(VerificationFailed):
            verify_stamp(key, value, **{**fields, "kind": other})  # type: ignore[arg-type]
        assert value != Stamper(key)(**{**fields, "kind": other})  # type: ignore[arg-type]
    with pytest.raises(MalformedData):
        Stamper(b"short")
    with pytest.raises(MalformedData):
        stamper(
            kind=kind,
            franking_commitment=bytes(32),
            sender_account="a",
            sender_device="b",
            thread_id="t",
            seq=-1,
            received_at=NOW,
        )
    assert repr(stamper) == "Stamper('**********')"  # never the key
