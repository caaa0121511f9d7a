"""Paid chats through the SDK: a red flag charges nothing; a paid chat starts with a
Checkout address, is queued once Stripe (the local double) confirms, and the GP's
client reads the sealed question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.admin import create_admin
from chat_server.clock import ManualClock
from chat_server.secret import Secret
from chat_server.settings import Settings
from e2e_crypto.client import ConflictError
from e2e_crypto.client.payloads import PanelQuestion
from e2e_crypto.client.triage import Intake
from moderation.consents import TEXT_VERSIONS, Purpose
from tests.sdk.people import People
from tests.stripe_double import StripeDouble

Db = AsyncDatabase[dict[str, Any]]


@pytest.fixture
async def double(clock: ManualClock) -> AsyncIterator[StripeDouble]:
    async with StripeDouble() as running:
        running.now = lambda: clock.now().timestamp()
        yield running


@pytest.fixture
def settings(settings: Settings, double: StripeDouble) -> Settings:
    return replace(
        settings,
        jobs_poll_seconds=0.05,
        payments_panel_id="general",
        stripe_secret_key=Secret("sk_test_double"),
        stripe_webhook_secrets=Secret(double.webhook_secret),
        stripe_api_base=double.url,
    )


async def test_a_paid_chat_through_the_sdk(
    people: People, db: Db, clock: ManualClock, double: StripeDouble, base_url: str
) -> None:
    double.webhook_url = f"{base_url}/api/v1/stripe/webhook"
    await create_admin(db, clock, "root@carechat.example", "an operator's long password")
    platform = people.client()
    await platform.login("root@carechat.example", "an operator's long password")
    doctor = await people.join("a@gp.example", "practitioner", "a-desk")
    await platform.api.request(
        "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration"
    )
    await doctor.panel.create("general", "General practice")
    await doctor.panel.commit_members("general", [doctor.account_id])
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    await ann.api.request(
        "POST",
        "/api/v1/consents",
        {"purpose": "paid_chat_terms", "version": TEXT_VERSIONS[Purpose.PAID_CHAT_TERMS]},
    )

    stopped = await ann.panel.start_paid_chat(
        "general", Intake("16_64", "cough", "today", ("none",), "Ik krijg geen lucht meer")
    )
    assert stopped.triage.stop
    assert stopped.chat is None
    assert await db["paid_chats"].count_documents({}) == 0

    started = await ann.panel.start_paid_chat(
        "general", Intake("16_64", "fever", "2_3_days", ("none",), "A rash on my arm")
    )
    assert started.chat is not None
    assert started.checkout_url is not None
    assert started.checkout_url.startswith(double.url)
    thread_id = str(started.chat["thread_id"])
    assert (await ann.panel.paid_chat(thread_id))["state"] == "pending_payment"
    await double.deliver_all(double.pay(started.checkout_url.rsplit("/", 1)[1], "bancontact"))
    for _ in range(200):
        # Queued, and its question in the queue (it enters just after).
        if (await ann.panel.paid_chat(thread_id))["state"] == "queued" and await db[
            "panel_questions"
        ].count_documents({"_id": thread_id}):
            break
        await asyncio.sleep(0.05)
    assert (await ann.panel.paid_chat(thread_id))["state"] == "queued"
    [payment] = await ann.panel.payments()
    assert (payment["thread_id"], payment["amount_cents"]) == (thread_id, 600)

    await doctor.panel.online("general")
    claimed = await doctor.panel.claim("general")
    assert claimed["question_id"] == thread_id
    [question] = await doctor.panel.messages(thread_id)
    assert isinstance(question.payload, PanelQuestion)
    assert question.payload.text == "A rash on my arm"


async def _patient_and_panel(people: People, db: Db, clock: ManualClock) -> Any:
    await create_admin(db, clock, "root@carechat.example", "an operator's long password")
    platform = people.client()
    await platform.login("root@carechat.example", "an operator's long password")
    doctor = await people.join("a@gp.example", "practitioner", "a-desk")
    await platform.api.request(
        "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration"
    )
    await doctor.panel.create("general", "General practice")
    await doctor.panel.commit_members("general", [doctor.account_id])
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    await ann.api.request(
        "POST",
        "/api/v1/consents",
        {"purpose": "paid_chat_terms", "version": TEXT_VERSIONS[Purpose.PAID_CHAT_TERMS]},
    )
    return ann


async def test_a_start_stripe_failed_is_preparing_until_the_server_job_makes_the_session(
    people: People, db: Db, clock: ManualClock, double: StripeDouble
) -> None:
    ann = await _patient_and_panel(people, db, clock)
    double.fail("checkout/sessions", status=500)  # the start's own try
    started = await ann.panel.start_paid_chat(
        "general", Intake("16_64", "fever", "2_3_days", ("none",), "A rash on my arm")
    )
    assert started.chat is not None
    assert started.preparing
    assert started.checkout_url is None
    chat = await ann.panel.wait_for_checkout(str(started.chat["thread_id"]), within=15, every=0.1)
    assert str(chat["checkout_url"]).startswith(double.url)
    assert len(double.sessions) == 1


async def test_a_preparing_chat_is_cancelled_through_the_sdk(
    people: People, db: Db, clock: ManualClock, double: StripeDouble
) -> None:
    ann = await _patient_and_panel(people, db, clock)
    double.fail("checkout/sessions", status=500, times=1000)
    started = await ann.panel.start_paid_chat(
        "general", Intake("16_64", "fever", "2_3_days", ("none",), "A rash on my arm")
    )
    assert started.chat is not None
    thread_id = str(started.chat["thread_id"])
    still = await ann.panel.wait_for_checkout(thread_id, within=0.3, every=0.1)
    assert still["state"] == "pending_payment"
    assert "checkout_url" not in still
    cancelled = await ann.panel.cancel_paid_chat(thread_id)
    assert (cancelled["state"], cancelled["closed_reason"]) == ("closed", "cancelled")
    assert cancelled["charged_cents"] == 0
    with pytest.raises(ConflictError) as refused:
        await ann.panel.cancel_paid_chat(thread_id)
    assert refused.value.code == "paid_chat_not_cancellable"
