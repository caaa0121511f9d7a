"""Paid chats in integration tests: an app wired to the local Stripe double
(tests/stripe_double.py), which the injected clock drives, and a patient's acceptance
of the paid-chat terms. Shared by the paid-chat tests and the GDPR ones (a patient
who paid is exported and erased)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.secret import Secret
from chat_server.settings import Settings
from moderation.consents import TEXT_VERSIONS, Purpose
from tests.actors import Actor, app_client
from tests.stripe_double import StripeDouble

Client = TestClient[web.Request, web.Application]


@asynccontextmanager
async def stripe_double(clock: ManualClock, webhook_secret: str) -> AsyncIterator[StripeDouble]:
    """The Stripe double, its events timed by ``clock``, signing with ``webhook_secret``."""
    async with StripeDouble(webhook_secret=webhook_secret) as running:
        running.now = lambda: clock.now().timestamp()
        yield running


async def paid_client(
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
    double: StripeDouble,
    *,
    panel_id: str,
    webhook_secrets: str,
    sessions_last: timedelta,
) -> Client:
    """A client of an app that takes payments for ``panel_id`` through ``double``, whose
    webhooks it receives. Sessions last ``sessions_last`` (idle or not), so that a test
    whose clock runs through a payment window or a grace period keeps them."""
    client = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        jobs_poll_seconds=0.05,
        session_idle_minutes=int(sessions_last.total_seconds() // 60),
        session_absolute_hours=int(sessions_last.total_seconds() // 3600),
        payments_panel_id=panel_id,
        stripe_secret_key=Secret("sk_test_double"),
        stripe_webhook_secrets=Secret(webhook_secrets),
        stripe_api_base=double.url,
    )
    double.webhook_url = str(client.make_url("/api/v1/stripe/webhook"))
    return client


async def accept_terms(person: Actor) -> None:
    """The paid-chat terms, accepted in their current version (a paid chat needs it)."""
    version = TEXT_VERSIONS[Purpose.PAID_CHAT_TERMS]
    await person.call(
        "POST",
        "/api/v1/consents",
        {"purpose": str(Purpose.PAID_CHAT_TERMS), "version": version},
        expect=204,
    )
