"""The Checkout Session a paid chat starts with.

Pay-on-answer with two methods that behave differently: a card is only authorised
(``payment_method_options.card.capture_method = manual``) and captured at the first
reply, while Bancontact cannot be held and is charged at once (refunded if nobody
answers). The top-level ``payment_intent_data.capture_method`` is never set: Stripe
would then hide every method that cannot be captured manually, Bancontact included.
"""

from __future__ import annotations

from datetime import datetime

from stripe.params.checkout import SessionCreateParams

from payments.terms import PaymentTerms

PRODUCT_NAME = "General chat with a doctor (24 hours from the first reply)"


def checkout_session_params(
    thread_id: str,
    terms: PaymentTerms,
    *,
    success_url: str,
    cancel_url: str,
    expires_at: datetime,
) -> SessionCreateParams:
    """The thread id is the only reference Stripe gets: no name, no e-mail."""
    return {
        "mode": "payment",
        # The pinned API version (payments.gateway.API_VERSION) names the methods a
        # session may offer ``allowed_payment_method_types``; ``payment_method_types``
        # is gone from its parameters.
        "allowed_payment_method_types": ["card", "bancontact"],
        "payment_method_options": {"card": {"capture_method": "manual"}},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": terms.currency,
                    "unit_amount": terms.price_cents,
                    "product_data": {"name": PRODUCT_NAME},
                },
            }
        ],
        "client_reference_id": thread_id,
        "metadata": {"thread_id": thread_id},
        # So that payment_intent.* events name the thread too.
        "payment_intent_data": {"metadata": {"thread_id": thread_id}},
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()),
    }
