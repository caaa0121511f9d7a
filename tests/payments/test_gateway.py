"""The payments library's Stripe calls, through the real SDK, against the local double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from payments.gateway import StripeGateway, StripeRefused, StripeUnavailable
from payments.keys import Action, idempotency_key
from payments.terms import InvalidTerms, PaymentTerms
from tests.stripe_double import StripeDouble

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
THREAD = "T" * 22


@pytest.fixture
async def double() -> AsyncIterator[StripeDouble]:
    async with StripeDouble() as running:
        running.now = NOW.timestamp  # the time the sessions' expires_at are made at
        yield running


@pytest.fixture
def gateway(double: StripeDouble) -> StripeGateway:
    return StripeGateway(double.client())


async def _checkout(gateway: StripeGateway, terms: PaymentTerms | None = None) -> str:
    session = await gateway.create_checkout(
        THREAD,
        terms or PaymentTerms(),
        success_url="https://carechat.test/ok",
        cancel_url="https://carechat.test/cancel",
        expires_at=NOW + timedelta(minutes=30),
    )
    return session.id


async def test_checkout_holds_cards_charges_bancontact_and_names_the_thread(
    double: StripeDouble, gateway: StripeGateway
) -> None:
    session_id = await _checkout(gateway)
    method, path, key, params = double.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert key == idempotency_key(Action.CHECKOUT, THREAD)
    assert params["mode"] == "payment"
    assert params["allowed_payment_method_types"] == ["card", "bancontact"]
    assert params["payment_method_options"] == {"card": {"capture_method": "manual"}}
    assert "capture_method" not in params["payment_intent_data"]
    assert params["client_reference_id"] == THREAD
    assert params["metadata"] == {"thread_id": THREAD}
    assert params["line_items"][0]["price_data"]["unit_amount"] == "600"
    assert params["line_items"][0]["price_data"]["currency"] == "eur"
    assert params["expires_at"] == str(int((NOW + timedelta(minutes=30)).timestamp()))
    assert double.sessions[session_id]["url"].startswith(double.url)


async def test_the_same_thread_makes_one_checkout_session(
    double: StripeDouble, gateway: StripeGateway
) -> None:
    first = await _checkout(gateway)
    again = await _checkout(gateway)
    assert first == again
    assert len(double.sessions) == 1


async def test_a_failed_call_surfaces_as_retryable_and_a_retry_acts_once(
    double: StripeDouble, gateway: StripeGateway
) -> None:
    session_id = await _checkout(gateway)
    double.pay(session_id, "card")
    intent = double.sessions[session_id]["payment_intent"]
    double.fail("capture", status=500)
    with pytest.raises(StripeUnavailable):
        await gateway.capture(THREAD, intent)
    double.fail("capture", status=0)  # carried out, the answer lost
    with pytest.raises(StripeUnavailable):
        await gateway.capture(THREAD, intent)
    assert await gateway.capture(THREAD, intent) == "succeeded"
    captures = [e for e in double.events if e["type"] == "payment_intent.succeeded"]
    assert len(captures) == 1


async def test_a_key_in_use_by_a_concurrent_request_is_retryable_not_final(
    double: StripeDouble, gateway: StripeGateway
) -> None:
    # Stripe's 409 while another request runs with the same key (the checkout job
    # beside a retried start): try again later, never give up.
    double.fail("checkout/sessions", status=409, code="idempotency_key_in_use")
    with pytest.raises(StripeUnavailable):
        await _checkout(gateway)
    double.fail("checkout/sessions", status=400, code="resource_missing")
    with pytest.raises(StripeRefused):
        await _checkout(gateway)
    await _checkout(gateway)
    assert len(double.sessions) == 1


async def test_refund_once_and_a_refused_call_is_final(
    double: StripeDouble, gateway: StripeGateway
) -> None:
    session_id = await _checkout(gateway)
    double.pay(session_id, "bancontact")
    intent = double.sessions[session_id]["payment_intent"]
    first = await gateway.refund(THREAD, intent)
    again = await gateway.refund(THREAD, intent)
    assert first == again
    assert first.status == "pending"  # Bancontact refunds settle later
    assert len(double.refunds) == 1
    with pytest.raises(StripeRefused):
        await gateway.capture(THREAD, intent)  # nothing held


async def test_the_double_refuses_parameters_stripe_does_not_know(
    double: StripeDouble, gateway: StripeGateway
) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter"):
        await double.client().v1.checkout.sessions.create_async(
            {"mode": "payment", "no_such_param": "1"}  # type: ignore[arg-type]
        )


def test_terms_are_integer_cents_and_an_sla_shorter_than_a_hold() -> None:
    assert PaymentTerms().price_cents == 600
    with pytest.raises(InvalidTerms):
        PaymentTerms(price_cents=6.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidTerms):
        PaymentTerms(sla=timedelta(days=7))
    with pytest.raises(InvalidTerms):
        PaymentTerms(currency="EUR")
