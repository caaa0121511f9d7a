"""Payments: paid general chats through Stripe, as a library that knows no HTTP server.

How the parts fit::

    terms.py       PaymentTerms: price (integer cents), currency, SLA, checkout expiry,
                   window; validated (the SLA is always shorter than a card hold)
    keys.py        deterministic idempotency keys: one per (action, thread[, attempt])
    checkout.py    the Checkout Session parameters: card held (manual capture on the
                   card only), Bancontact charged at once, thread id in metadata and
                   client_reference_id, expires_at
    gateway.py     StripeGateway: the few Stripe calls the server makes, async, each
                   with its idempotency key (a retry of the same action is the same call)
    signatures.py  Stripe-Signature verification: t=..,v1=..[,v1=..], several secrets
                   (rotation), a tolerance measured on the caller's clock
    facts.py       what a webhook event says about a paid chat (held, paid, expired,
                   refunded, ...), extracted from the stored event alone

The server (chat_server) stores events, decides and records; nothing here touches a
database, so every decision is testable on its own and the server owns durability.
"""

from payments.checkout import checkout_session_params
from payments.facts import Fact, PaymentFact, fact_of
from payments.gateway import CheckoutSession, StripeGateway
from payments.keys import idempotency_key
from payments.signatures import InvalidSignature, verify_signature
from payments.terms import PaymentTerms

__all__ = [
    "CheckoutSession",
    "Fact",
    "InvalidSignature",
    "PaymentFact",
    "PaymentTerms",
    "StripeGateway",
    "checkout_session_params",
    "fact_of",
    "idempotency_key",
    "verify_signature",
]
