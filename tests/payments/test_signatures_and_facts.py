"""Webhook signatures (several v1 values, several secrets, the tolerance) and the fact
each event type states."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import pytest

from payments.facts import Fact, fact_of
from payments.signatures import InvalidSignature, verify_signature
from tests.stripe_double import StripeDouble

EVENT = {"id": "evt_1", "type": "checkout.session.expired", "data": {"object": {"id": "cs_1"}}}
OLD, NEW = "whsec_old", "whsec_new"


def _signed(secrets: list[str], at: int) -> tuple[bytes, str]:
    return StripeDouble().signed(EVENT, secrets=secrets, timestamp=at)


def test_a_genuine_event_verifies_with_either_secret_during_rotation() -> None:
    now = int(time.time())
    body, header = _signed([OLD, NEW], now)
    assert header.count("v1=") == 2
    assert verify_signature(body, header, [NEW], now=now)["id"] == "evt_1"
    assert verify_signature(body, header, [OLD], now=now)["id"] == "evt_1"
    body, header = _signed([NEW], now)
    assert verify_signature(body, header, [OLD, NEW], now=now)["id"] == "evt_1"


@pytest.mark.parametrize("case", ["unknown secret", "altered", "too old", "no v1", "garbage"])
def test_forged_altered_old_or_malformed_events_are_refused(case: str) -> None:
    now = int(time.time())
    body, header = _signed([NEW], now)
    if case == "unknown secret":
        body, header = _signed(["whsec_attacker"], now)
    elif case == "altered":
        body = body.replace(b"expired", b"completed")
    elif case == "too old":
        body, header = _signed([NEW], now - 301)
    elif case == "no v1":
        header = header.split(",")[0]
    else:
        header = "t=abc,v1=00"
    with pytest.raises(InvalidSignature):
        verify_signature(body, header, [NEW], now=now)


def test_within_the_tolerance_an_old_timestamp_still_verifies() -> None:
    now = int(time.time())
    body, header = _signed([NEW], now - 299)
    assert json.loads(body)["id"] == verify_signature(body, header, [NEW], now=now)["id"]


def _event(kind: str, obj: Mapping[str, object]) -> dict[str, object]:
    return {"id": "evt", "type": kind, "data": {"object": obj}}


def test_each_event_type_states_its_fact() -> None:
    session = {
        "id": "cs",
        "metadata": {"thread_id": "t1"},
        "payment_intent": "pi",
        "amount_total": 600,
    }
    completed = fact_of(_event("checkout.session.completed", {**session, "payment_status": "paid"}))
    assert completed is not None
    assert completed.fact is Fact.PAID
    assert completed.thread_id == "t1"
    unpaid = fact_of(_event("checkout.session.completed", {**session, "payment_status": "unpaid"}))
    assert unpaid is not None
    assert unpaid.fact is Fact.COMPLETED
    intent = {"id": "pi", "metadata": {"thread_id": "t1"}, "amount_capturable": 600}
    held = fact_of(_event("payment_intent.amount_capturable_updated", intent))
    assert held is not None
    assert held.fact is Fact.HELD
    assert held.payment_intent == "pi"
    facts = {
        "checkout.session.expired": Fact.EXPIRED,
        "checkout.session.async_payment_succeeded": Fact.PAID,
        "checkout.session.async_payment_failed": Fact.FAILED,
    }
    for kind, fact in facts.items():
        found = fact_of(_event(kind, session))
        assert found is not None
        assert found.fact is fact
    canceled = fact_of(_event("payment_intent.canceled", {"id": "pi"}))
    assert canceled is not None
    assert canceled.fact is Fact.HOLD_CANCELLED
    refund = {"id": "re", "payment_intent": "pi", "status": "succeeded"}
    done = fact_of(_event("refund.updated", refund))
    assert done is not None
    assert done.fact is Fact.REFUNDED
    assert done.thread_id is None
    failed = fact_of(_event("refund.failed", {**refund, "status": "failed"}))
    assert failed is not None
    assert failed.fact is Fact.REFUND_FAILED
    pending = fact_of(
        _event(
            "charge.refunded",
            {
                "payment_intent": "pi",
                "refunded": True,
                "refunds": {"data": [{"status": "pending"}]},
            },
        )
    )
    assert pending is not None
    assert pending.fact is Fact.REFUND_PENDING
    assert fact_of(_event("customer.created", {"id": "cus"})) is None
    assert fact_of({"id": "evt", "type": "refund.updated"}) is None
