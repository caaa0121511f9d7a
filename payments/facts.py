"""What a Stripe event says about a paid chat, read from the event alone.

Each event type maps to one *fact*; the server records facts on the pass and derives
its state from the set of facts it holds, so the same events in any order, or twice,
lead to the same state (Stripe retries for days, out of order, more than once)::

    checkout.session.completed  payment_status=paid    -> PAID   (Bancontact, at once)
                                payment_status=unpaid  -> COMPLETED (card: hold follows)
    checkout.session.async_payment_succeeded           -> PAID
    checkout.session.async_payment_failed              -> FAILED
    checkout.session.expired                           -> EXPIRED
    payment_intent.amount_capturable_updated (> 0)     -> HELD
    payment_intent.canceled                            -> HOLD_CANCELLED (incl. a
                                                          hold that ran out)
    payment_intent.succeeded                           -> CAPTURED when it was held
    charge.refunded                                    -> REFUND_PENDING (or REFUNDED)
    refund.updated  status=succeeded                   -> REFUNDED
    refund.updated  status=failed|canceled, refund.failed -> REFUND_FAILED
    charge.dispute.created                             -> DISPUTED

A charge or refund names its PaymentIntent, not the thread: ``thread_id`` is None
there and the server finds the pass by ``payment_intent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Fact(StrEnum):
    COMPLETED = "completed"
    PAID = "paid"
    HELD = "held"
    FAILED = "failed"
    EXPIRED = "expired"
    HOLD_CANCELLED = "hold_cancelled"
    CAPTURED = "captured"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"
    DISPUTED = "disputed"


# The events to enable on the Stripe endpoint (docs/payments.md lists them too).
HANDLED_EVENTS = (
    "checkout.session.completed",
    "checkout.session.expired",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "payment_intent.amount_capturable_updated",
    "payment_intent.canceled",
    "payment_intent.succeeded",
    "charge.refunded",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
)


@dataclass(frozen=True, slots=True)
class PaymentFact:
    fact: Fact
    thread_id: str | None
    session_id: str | None = None
    payment_intent: str | None = None
    amount_cents: int | None = None
    currency: str | None = None
    refund_id: str | None = None


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, Mapping):  # an expanded object
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if type(value) is int else None


def _thread(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("thread_id"), str):
        return str(metadata["thread_id"])
    return _str(obj, "client_reference_id")


def _session(fact: Fact, obj: Mapping[str, Any]) -> PaymentFact:
    return PaymentFact(
        fact,
        _thread(obj),
        session_id=_str(obj, "id"),
        payment_intent=_str(obj, "payment_intent"),
        amount_cents=_int(obj, "amount_total"),
        currency=_str(obj, "currency"),
    )


def fact_of(event: Mapping[str, Any]) -> PaymentFact | None:
    """The fact an event states, or None for an event that says nothing here."""
    kind = event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        return None
    match kind:
        case "checkout.session.completed":
            paid = obj.get("payment_status") in ("paid", "no_payment_required")
            return _session(Fact.PAID if paid else Fact.COMPLETED, obj)
        case "checkout.session.async_payment_succeeded":
            return _session(Fact.PAID, obj)
        case "checkout.session.async_payment_failed":
            return _session(Fact.FAILED, obj)
        case "checkout.session.expired":
            return _session(Fact.EXPIRED, obj)
        case "payment_intent.amount_capturable_updated":
            if not _int(obj, "amount_capturable"):
                return None
            return _intent(Fact.HELD, obj, "amount_capturable")
        case "payment_intent.canceled":
            return _intent(Fact.HOLD_CANCELLED, obj, "amount")
        case "payment_intent.succeeded":
            if obj.get("capture_method") not in ("manual", "automatic_async", "automatic"):
                return None
            held = obj.get("capture_method") == "manual"
            return _intent(Fact.CAPTURED if held else Fact.PAID, obj, "amount_received")
        case "charge.refunded":
            done = obj.get("refunded") is True and _refunds_settled(obj)
            return _charge(Fact.REFUNDED if done else Fact.REFUND_PENDING, obj)
        case "refund.updated" | "refund.failed":
            status = obj.get("status")
            if kind == "refund.failed" or status in ("failed", "canceled"):
                return _refund(Fact.REFUND_FAILED, obj)
            if status == "succeeded":
                return _refund(Fact.REFUNDED, obj)
            return None
        case "charge.dispute.created":
            return _charge(Fact.DISPUTED, obj)
    return None


def _intent(fact: Fact, obj: Mapping[str, Any], amount: str) -> PaymentFact:
    return PaymentFact(
        fact,
        _thread(obj),
        payment_intent=_str(obj, "id"),
        amount_cents=_int(obj, amount),
        currency=_str(obj, "currency"),
    )


def _charge(fact: Fact, obj: Mapping[str, Any]) -> PaymentFact:
    return PaymentFact(
        fact,
        _thread(obj),
        payment_intent=_str(obj, "payment_intent"),
        amount_cents=_int(obj, "amount_refunded") if fact is not Fact.DISPUTED else None,
        currency=_str(obj, "currency"),
    )


def _refund(fact: Fact, obj: Mapping[str, Any]) -> PaymentFact:
    return PaymentFact(
        fact,
        _thread(obj),
        payment_intent=_str(obj, "payment_intent"),
        amount_cents=_int(obj, "amount"),
        currency=_str(obj, "currency"),
        refund_id=_str(obj, "id"),
    )


def _refunds_settled(charge: Mapping[str, Any]) -> bool:
    """A card refund succeeds at once; a Bancontact one is pending until refund.updated."""
    refunds = charge.get("refunds")
    items = refunds.get("data") if isinstance(refunds, Mapping) else None
    if not isinstance(items, list) or not items:
        return False
    return all(isinstance(r, Mapping) and r.get("status") == "succeeded" for r in items)
