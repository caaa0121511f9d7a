"""Paid chats through the SDK: a red flag charges nothing; a paid chat starts with a
Checkout address, is queued once Stripe (the local double) confirms, and the GP's
client reads the sealed question. The terms shown before a start are the server's
settings; a charged chat has a receipt for its patient alone."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.admin import create_admin
from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.secret import Secret
from chat_server.settings import Settings
from e2e_crypto.client import (
    CareChatClient,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ServerError,
    Text,
)
from e2e_crypto.client.paid_chats import PaidChatTerms
from e2e_crypto.client.payloads import PanelQuestion
from e2e_crypto.client.triage import Intake
from moderation.consents import TEXT_VERSIONS, Purpose
from tests.sdk.people import PASSWORD, People
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
        payments_seller="Huisartsen Zuid BV",
        payments_seller_address="Rue de la Loi 16, 1000 Brussels",
        payments_seller_vat_id="BE0123456789",
    )


Serve = Callable[[Settings], Awaitable[str]]


@pytest.fixture
def serve(aiohttp_server: Any, clock: ManualClock, outbox: MemoryOutbox) -> Serve:
    """Another server on the same MongoDB and Redis, with other settings: its URL."""

    async def start(other: Settings) -> str:
        app = create_app(other, clock=clock, mailer=outbox, sms=outbox)
        server: TestServer = await aiohttp_server(app)
        return str(server.make_url("")).rstrip("/")

    return start


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


async def _doctor_and_patient(
    people: People, db: Db, clock: ManualClock
) -> tuple[CareChatClient, CareChatClient]:
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
    return doctor, ann


async def test_a_start_stripe_failed_is_preparing_until_the_server_job_makes_the_session(
    people: People, db: Db, clock: ManualClock, double: StripeDouble
) -> None:
    _, ann = await _doctor_and_patient(people, db, clock)
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
    _, ann = await _doctor_and_patient(people, db, clock)
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


async def test_the_terms_are_the_servers_settings_for_patients_only(
    people: People, settings: Settings, serve: Serve
) -> None:
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    assert await ann.panel.terms() == PaidChatTerms(600, "eur", 24 * 3600, 4 * 3600)
    # A server configured otherwise answers its own terms.
    dearer = replace(
        settings,
        payments_price_cents=1250,
        payments_currency="usd",
        payments_sla_minutes=90,
        payments_window_minutes=45,
    )
    there = people.client(await serve(dearer))
    await there.login("ann@example.org", PASSWORD)
    there.use_keys(ann.keystore)
    terms = await there.panel.terms()
    assert terms == PaidChatTerms(1250, "usd", 45 * 60, 90 * 60)
    assert (terms.window, terms.sla) == (timedelta(minutes=45), timedelta(minutes=90))

    doctor = await people.join("a@gp.example", "practitioner", "a-desk")
    with pytest.raises(ForbiddenError) as refused:
        await doctor.panel.terms()
    assert (refused.value.status, refused.value.code) == (403, "patients_only")

    off = replace(
        settings,
        payments_panel_id="",
        stripe_secret_key=None,
        stripe_webhook_secrets=None,
        stripe_api_base="",
    )
    unpaid = people.client(await serve(off))
    await unpaid.login("ann@example.org", PASSWORD)
    unpaid.use_keys(ann.keystore)
    with pytest.raises(ServerError) as not_set_up:
        await unpaid.panel.terms()
    assert (not_set_up.value.status, not_set_up.value.code) == (503, "payments_not_configured")


async def test_a_charged_chat_has_a_receipt_for_its_patient_alone(
    people: People, db: Db, clock: ManualClock, double: StripeDouble, base_url: str
) -> None:
    double.webhook_url = f"{base_url}/api/v1/stripe/webhook"
    doctor, ann = await _doctor_and_patient(people, db, clock)
    started = await ann.panel.start_paid_chat(
        "general", Intake("16_64", "fever", "2_3_days", ("none",), "A rash on my arm")
    )
    assert started.chat is not None
    assert started.checkout_url is not None
    thread_id = str(started.chat["thread_id"])
    await double.deliver_all(double.pay(started.checkout_url.rsplit("/", 1)[1], "card"))
    for _ in range(200):
        if (await ann.panel.paid_chat(thread_id))["state"] == "queued" and await db[
            "panel_questions"
        ].count_documents({"_id": thread_id}):
            break
        await asyncio.sleep(0.05)
    # The card is only held until a GP answers: nothing to receipt yet.
    with pytest.raises(NotFoundError) as early:
        await ann.panel.receipt(thread_id)
    assert early.value.code == "not_found"

    await doctor.panel.online("general")
    await doctor.panel.claim("general", thread_id)
    await doctor.panel.reply(thread_id, Text("Nothing urgent: keep it clean."), answer=True)
    for _ in range(200):
        if (await ann.panel.paid_chat(thread_id))["charged_cents"] == 600:
            break
        await asyncio.sleep(0.05)
    receipt = await ann.panel.receipt(thread_id)
    assert (receipt.thread_id, receipt.content_type) == (thread_id, "text/html")
    assert receipt.html.startswith("<!doctype html>")
    for shown in (
        "Seller",
        "Huisartsen Zuid BV",
        "Rue de la Loi 16, 1000 Brussels",
        "VAT number",
        "BE0123456789",
        "Receipt number",
        thread_id,
        "Date of supply",
        clock.now().date().isoformat(),
        "Amount paid",
        "6.00 EUR",
        "Exempt from VAT",
    ):
        assert shown in receipt.html

    # Its answering GP, another patient, a chat that does not exist: the same 404.
    bob = await people.join("bob@example.org", "patient", "bob-phone")
    refused = []
    for who, thread in ((doctor, thread_id), (bob, thread_id), (bob, secrets.token_urlsafe(16))):
        with pytest.raises(NotFoundError) as not_found:
            await who.panel.receipt(thread)
        refused.append((not_found.value.status, not_found.value.code))
    assert refused == [(404, "not_found")] * 3
