"""The Stripe calls a paid chat needs, async, each with a deterministic idempotency key.

The server builds one ``stripe.StripeClient`` (its base address points at a local
double in tests) and hands it here. ``max_network_retries`` stays 0 in the client:
retries belong to the server's durable jobs, which resend the same key after a
timeout, a 5xx or a crash, so Stripe acts at most once whatever happens in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import stripe

from payments.checkout import checkout_session_params
from payments.keys import Action, idempotency_key
from payments.terms import PaymentTerms

# Pinned: Stripe shapes its objects and events by this version (docs/payments.md).
API_VERSION = stripe.api_version


class StripeUnavailable(Exception):
    """Stripe did not answer, or answered with a 5xx, 429 or 409 (the key in use by a
    concurrent request): try again later, same key."""


class StripeRefused(Exception):
    """Stripe answered with a 4xx other than 409 and 429: trying again will not help. The
    code is Stripe's error code (for the log), never its message."""

    def __init__(self, code: str | None) -> None:
        super().__init__(code or "refused")
        self.code = code


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str | None
    payment_status: str | None
    payment_intent: str | None


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    status: str | None


def _id(value: object) -> str | None:
    if isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None


def _session(obj: stripe.checkout.Session) -> CheckoutSession:
    return CheckoutSession(
        id=obj.id,
        url=obj.url,
        status=obj.status,
        payment_status=obj.payment_status,
        payment_intent=_id(obj.payment_intent),
    )


def _translate(exc: stripe.StripeError) -> Exception:
    status = exc.http_status
    if isinstance(exc, stripe.APIConnectionError) or status is None or status >= 500:
        return StripeUnavailable(type(exc).__name__)
    if status == 429:
        return StripeUnavailable("rate limited")
    if status == 409:
        # Stripe's conflict: another request runs with the same key right now (a
        # retried start beside the checkout job); its answer will be there later.
        return StripeUnavailable("conflict")
    return StripeRefused(exc.code)


class StripeGateway:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def create_checkout(
        self,
        thread_id: str,
        terms: PaymentTerms,
        *,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
    ) -> CheckoutSession:
        params = checkout_session_params(
            thread_id, terms, success_url=success_url, cancel_url=cancel_url, expires_at=expires_at
        )
        try:
            obj = await self._client.v1.checkout.sessions.create_async(
                params, {"idempotency_key": idempotency_key(Action.CHECKOUT, thread_id)}
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return _session(obj)

    async def retrieve_checkout(self, session_id: str) -> CheckoutSession:
        try:
            obj = await self._client.v1.checkout.sessions.retrieve_async(session_id)
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return _session(obj)

    async def expire_checkout(self, thread_id: str, session_id: str) -> CheckoutSession:
        try:
            obj = await self._client.v1.checkout.sessions.expire_async(
                session_id, None, {"idempotency_key": idempotency_key(Action.EXPIRE, thread_id)}
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return _session(obj)

    async def capture(self, thread_id: str, payment_intent: str) -> str:
        """The PaymentIntent's status after the capture (``succeeded``)."""
        try:
            obj = await self._client.v1.payment_intents.capture_async(
                payment_intent,
                None,
                {"idempotency_key": idempotency_key(Action.CAPTURE, thread_id)},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return str(obj.status)

    async def cancel(self, thread_id: str, payment_intent: str) -> str:
        """Releases a card hold; the PaymentIntent's status after (``canceled``)."""
        try:
            obj = await self._client.v1.payment_intents.cancel_async(
                payment_intent,
                {"cancellation_reason": "abandoned"},
                {"idempotency_key": idempotency_key(Action.CANCEL, thread_id)},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return str(obj.status)

    async def refund(self, thread_id: str, payment_intent: str) -> Refund:
        """Refunds the whole payment (one refund per paid chat: the key says so)."""
        try:
            obj = await self._client.v1.refunds.create_async(
                {"payment_intent": payment_intent, "metadata": {"thread_id": thread_id}},
                {"idempotency_key": idempotency_key(Action.REFUND, thread_id)},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return Refund(obj.id, obj.status)

    async def retrieve_refund(self, refund_id: str) -> Refund:
        try:
            obj = await self._client.v1.refunds.retrieve_async(refund_id)
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return Refund(obj.id, obj.status)
