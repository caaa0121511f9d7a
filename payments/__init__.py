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

Only ``checkout.py`` and ``gateway.py`` import ``stripe`` (which itself loads aiohttp
for its async HTTP client); the deciding half (terms, keys, signatures, facts) loads
neither, so nothing is re-exported here: import the module you need.
"""
