"""Paid general chats end to end: the real stripe SDK against the local Stripe double
(tests/stripe_double.py), really signed webhooks, the real panel queue, an injected
clock. One pass per session, at most one capture, at most one refund, whatever the
order or number of deliveries; forged webhooks change nothing; failures converge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.secret import Secret
from chat_server.settings import Settings
from chat_server.storage.audit import AuditStore
from tests.actors import Actor, app_client
from tests.faults.harness import until
from tests.paid import accept_terms, stripe_double
from tests.paid import paid_client as paid_client_of
from tests.panels import (
    PanelHandle,
    answer,
    ask,
    create_panel,
    gp,
    online,
    patient,
    question_id,
    seal,
    verified,
)
from tests.practices import platform_admin
from tests.stripe_double import SLOW, StripeDouble

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
PANEL = "general"
SECRETS = "whsec_old_secret,whsec_new_secret"
WAIT_S = 15.0


@pytest.fixture
async def double(clock: ManualClock) -> AsyncIterator[StripeDouble]:
    async with stripe_double(clock, "whsec_new_secret") as running:
        yield running


@pytest.fixture
async def paid_client(
    aiohttp_client: Any,
    settings: Settings,
    db: Db,
    clock: ManualClock,
    outbox: MemoryOutbox,
    double: StripeDouble,
) -> Client:
    # The clock runs through a 24-hour window: sessions outlive it.
    return await paid_client_of(
        aiohttp_client, settings, clock, outbox, double,
        panel_id=PANEL, webhook_secrets=SECRETS, sessions_last=timedelta(days=7),
    )  # fmt: skip


class World:
    def __init__(self, client: Client, db: Db, clock: ManualClock, double: StripeDouble) -> None:
        self.client, self.db, self.clock, self.double = client, db, clock, double
        self.panel: PanelHandle
        self.doctor: Actor
        self.admin: Actor
        self.patient: Actor
        self.envelopes: dict[str, str] = {}

    async def start(self, *, qid: str | None = None, expect: int = 201) -> Any:
        qid = qid or question_id()
        # A retry resends the same sealed question, as a client does.
        envelope = self.envelopes.get(qid) or seal(
            self.patient,
            qid,
            "q1",
            b"A rash since yesterday, not itchy.",
            patient_devices=verified(self.patient),
            epoch=self.panel.current,
        )
        self.envelopes[qid] = envelope
        return await self.patient.call(
            "POST",
            "/api/v1/paid-chats",
            {"thread_id": qid, "client_msg_id": "q1", "envelope": envelope},
            expect=expect,
        )

    async def chat(self, qid: str) -> dict[str, Any]:
        doc = await self.db["paid_chats"].find_one({"_id": qid})
        assert doc is not None
        return doc

    async def reaches(self, qid: str, state: str, *facts: str) -> None:
        async def there() -> bool:
            doc = await self.chat(qid)
            if state == "queued" and not await self.db["panel_questions"].count_documents(
                {"_id": qid}
            ):
                return False  # a queued chat's question enters the queue just after
            return doc["state"] == state and set(facts) <= set(doc["facts"])

        await until(there, WAIT_S, "the question in the queue")

    async def patient_writes(self, qid: str, client_msg_id: str, *, expect: int = 201) -> Any:
        envelope = seal(
            self.patient,
            qid,
            client_msg_id,
            b"Thank you, and may I still go swimming?",
            patient_devices=verified(self.patient),
            epoch=self.panel.current,
        )
        return await self.patient.call(
            "POST",
            f"/api/v1/panel-questions/{qid}/messages",
            {"client_msg_id": client_msg_id, "envelope": envelope},
            expect=expect,
        )

    def session_of(self, reply: dict[str, Any]) -> str:
        return str(reply["checkout_url"].rsplit("/", 1)[1])

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await asyncio.sleep(0.2)  # let the runner's next poll see the new time


@pytest.fixture
async def world(
    paid_client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock, double: StripeDouble
) -> World:
    built = World(paid_client, db, clock, double)
    platform = await platform_admin(paid_client, db, clock)
    built.admin = platform
    built.doctor = await gp(paid_client, outbox, platform, "gp@example.org")
    built.panel = await create_panel(built.doctor, [built.doctor], panel_id=PANEL)
    built.patient = await patient(paid_client, outbox, "pat@example.org")
    await accept_terms(built.patient)
    return built


async def test_a_card_chat_is_held_queued_once_captured_once_at_the_first_reply(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    assert reply["state"] == "pending_payment"
    assert reply["amount_cents"] == 600
    assert reply["charged_cents"] == 0
    assert await world.db["panel_questions"].find_one({"_id": qid}) is None  # not yet queued
    events = double.pay(world.session_of(reply), "card")
    # Stripe's way: twice, out of order, concurrently.
    statuses = await double.deliver_all([*reversed(events), *events])
    assert statuses == [200] * 4
    await world.reaches(qid, "queued", "held", "completed")
    assert await world.db["panel_questions"].count_documents({"_id": qid}) == 1
    assert await world.db["stripe_events"].count_documents({}) == 2
    assert (
        await world.db["paid_chats"].count_documents({"session_id": world.session_of(reply)}) == 1
    )

    await online(world.doctor, panel_id=PANEL)
    await world.doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
    await answer(world.doctor, world.panel, qid, verified(world.patient))
    await world.reaches(qid, "answered", "captured")
    assert double.calls("/capture") == 1
    # Stripe's own capture event, twice, changes nothing more.
    captured = [e for e in double.events if e["type"] == "payment_intent.succeeded"]
    await double.deliver_all(captured * 2)
    status = await world.patient.call("GET", f"/api/v1/paid-chats/{qid}")
    assert status["charged_cents"] == 600
    assert double.calls("/capture") == 1
    payouts = await world.doctor.call("GET", "/api/v1/payouts")
    assert [p["thread_id"] for p in payouts["payouts"]] == [qid]


async def test_the_window_closes_for_both_exactly_at_its_end(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "card"))
    await world.reaches(qid, "queued", "held")
    await online(world.doctor, panel_id=PANEL)
    await world.doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
    await answer(world.doctor, world.panel, qid, verified(world.patient))
    await world.reaches(qid, "answered", "captured")
    await world.advance(24 * 3600 - 1)
    await answer(
        world.doctor, world.panel, qid, verified(world.patient), client_msg_id="a2", is_answer=False
    )
    await world.patient_writes(qid, "p1")
    await world.advance(1)
    await answer(
        world.doctor,
        world.panel,
        qid,
        verified(world.patient),
        client_msg_id="a3",
        is_answer=False,
        expect=409,
    )
    # Read-only for the patient as well.
    refused = await world.patient_writes(qid, "p2", expect=409)
    assert refused["code"] == "thread_closed"
    await world.reaches(qid, "closed")
    assert (await world.chat(qid))["closed_reason"] == "window_ended"
    messages = await world.patient.call("GET", f"/api/v1/panel-questions/{qid}/messages")
    assert [m["client_msg_id"] for m in messages["messages"]] == ["q1", "a1", "a2", "p1"]


async def test_the_doctor_may_close_early_and_only_the_doctor(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "bancontact"))
    await world.reaches(qid, "queued", "paid")
    await online(world.doctor, panel_id=PANEL)
    await world.doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
    await answer(world.doctor, world.panel, qid, verified(world.patient))
    await world.reaches(qid, "answered")
    refused = await world.patient.call("POST", f"/api/v1/paid-chats/{qid}/close", expect=409)
    assert refused["code"] == "paid_chat_not_closable"
    closed = await world.doctor.call("POST", f"/api/v1/paid-chats/{qid}/close")
    assert closed["state"] == "closed"
    assert closed["charged_cents"] == 600
    assert double.calls("/capture") == 0  # Bancontact was charged at once


async def test_an_unanswered_card_chat_releases_its_hold_once(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "card"))
    await world.reaches(qid, "queued", "held")
    await world.advance(4 * 3600)
    await world.reaches(qid, "refunded", "hold_cancelled")
    assert double.calls("/cancel") == 1
    canceled = [e for e in double.events if e["type"] == "payment_intent.canceled"]
    await double.deliver_all(canceled * 2)
    status = await world.patient.call("GET", f"/api/v1/paid-chats/{qid}")
    assert status["charged_cents"] == 0
    assert status["closed_reason"] == "unanswered"
    question = await world.db["panel_questions"].find_one({"_id": qid})
    assert question is not None
    assert question["state"] == "closed"
    assert double.calls("/cancel") == 1
    assert double.calls("/capture") == 0


async def test_an_unanswered_bancontact_chat_is_refunded_once_and_followed_to_the_end(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "bancontact"))
    await world.reaches(qid, "queued", "paid")
    await world.advance(4 * 3600)
    await world.reaches(qid, "refunded", "refund_pending")
    assert len(double.refunds) == 1
    refunded = [e for e in double.events if e["type"] == "charge.refunded"]
    await double.deliver_all(refunded * 2)
    (refund_id,) = double.refunds
    await double.deliver(double.settle_refund(refund_id))
    await world.reaches(qid, "refunded", "refunded")
    assert len(double.refunds) == 1
    assert double.calls("/v1/refunds") == 1
    payments = await world.patient.call("GET", "/api/v1/payments")
    assert [(p["thread_id"], p["charged_cents"]) for p in payments["payments"]] == [(qid, 0)]


async def test_an_expired_checkout_closes_the_chat_unqueued(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    session = double.sessions[world.session_of(reply)]
    session["status"] = "expired"
    expired = double._event("checkout.session.expired", session)
    await double.deliver(expired)
    await world.reaches(qid, "closed", "expired")
    assert await world.db["panel_questions"].find_one({"_id": qid}) is None


async def test_a_retried_start_makes_one_checkout_session(
    world: World, double: StripeDouble
) -> None:
    qid = question_id()
    double.fail("checkout/sessions", status=0)  # made at Stripe, the answer lost
    preparing = await world.start(qid=qid)
    assert "checkout_url" not in preparing
    first = await world.start(qid=qid)
    again = await world.start(qid=qid)
    assert first["checkout_url"] == again["checkout_url"]
    await world.advance(6)  # the checkout job too gets the same session back
    await until(lambda: _job_done(world, qid), WAIT_S, "the checkout job done")
    assert len(double.sessions) == 1


async def _job_done(world: World, qid: str) -> bool:
    job = await world.db["jobs"].find_one(
        {"kind": "stripe_checkout", "dedupe_key": f"{qid}/checkout"}
    )
    return job is not None and bool(job["state"] == "done")


async def _first_try_failed(world: World) -> bool:
    job = await world.db["jobs"].find_one({"kind": "stripe_checkout"})
    return job is not None and job["state"] == "due" and job["attempts"] == 1


async def _status(world: World, qid: str) -> dict[str, Any]:
    reply: dict[str, Any] = await world.patient.call("GET", f"/api/v1/paid-chats/{qid}")
    return reply


async def _advancing_until(world: World, qid: str, done: Any, what: str) -> dict[str, Any]:
    """Polls the chat's status as the widget does, the clock running 6 s a poll
    (through the checkout job's back-off)."""
    for _ in range(400):
        status = await _status(world, qid)
        if done(status):
            return status
        await world.advance(6)
    raise AssertionError(f"never {what}")


@pytest.mark.parametrize(
    ("fault", "times"),
    [(500, 2), (0, 2), (500, 6)],
    ids=["stripe 500", "timeout", "stripe back after minutes"],
)
async def test_stripe_failing_the_start_defers_the_checkout_to_a_job_that_makes_one_session(
    world: World, double: StripeDouble, fault: int, times: int
) -> None:
    qid = question_id()
    # The start's own try and the job's first ones; a timeout is made at Stripe,
    # unanswered. After minutes, the expires_at chosen at the start still suits Stripe.
    double.fail("checkout/sessions", status=fault, times=times)
    preparing = await world.start(qid=qid)
    assert preparing["state"] == "pending_payment"
    assert "checkout_url" not in preparing  # "preparing payment"
    status = await _advancing_until(world, qid, lambda s: "checkout_url" in s, "a checkout URL")
    assert status["state"] == "pending_payment"
    assert len(double.sessions) == 1
    session = world.session_of(status)
    creates = [r for r in double.requests if r[1] == "/v1/checkout/sessions"]
    assert len(creates) >= 2
    assert {key for _, _, key, _ in creates} == {f"carechat/checkout/{qid}"}
    assert len({str(params) for _, _, _, params in creates}) == 1  # the same request
    assert double.sessions[session]["metadata"]["thread_id"] == qid
    # And the chat goes on as any other.
    await double.deliver_all(double.pay(session, "card"))
    await world.reaches(qid, "queued", "held")


async def test_a_checkout_job_that_keeps_failing_ends_the_chat_with_nothing_charged(
    world: World, double: StripeDouble
) -> None:
    qid = question_id()
    double.fail("checkout/sessions", status=500, times=1000)
    await world.start(qid=qid)
    status = await _advancing_until(world, qid, lambda s: s["state"] == "closed", "the chat closed")
    assert status["closed_reason"] == "checkout_failed"
    assert status["charged_cents"] == 0
    assert "checkout_url" not in status
    assert double.sessions == {}
    assert double.calls("checkout/sessions") == 1 + 8  # the start's try, the job's eight
    job = await world.db["jobs"].find_one({"kind": "stripe_checkout"})
    assert job is not None
    assert job["state"] == "done"  # it ended the chat: not left failed
    assert await world.db["panel_questions"].find_one({"_id": qid}) is None
    # A retried start does not revive it.
    again = await world.start(qid=qid)
    assert again["state"] == "closed"
    assert double.calls("checkout/sessions") == 9


async def test_a_checkout_job_too_late_for_stripes_expiry_rules_gives_up_without_calling(
    world: World, double: StripeDouble
) -> None:
    qid = question_id()
    double.fail("checkout/sessions", status=500, times=2)
    await world.start(qid=qid)
    await until(lambda: _first_try_failed(world), WAIT_S, "the job's first try failed")
    # The job's runner was held up (every process down for a while): the session
    # would now expire in under Stripe's 30 minutes.
    await world.db["paid_chats"].update_one(
        {"_id": qid}, {"$set": {"checkout_expires_at": world.clock.now() + timedelta(minutes=29)}}
    )
    calls = double.calls("checkout/sessions")
    status = await _advancing_until(world, qid, lambda s: s["state"] == "closed", "the chat closed")
    assert status["closed_reason"] == "checkout_failed"
    assert double.calls("checkout/sessions") == calls  # not a doomed call
    assert double.sessions == {}


async def test_a_patient_may_cancel_while_the_payment_is_prepared_and_not_after(
    world: World, double: StripeDouble, paid_client: Client, outbox: MemoryOutbox
) -> None:
    qid = question_id()
    double.fail("checkout/sessions", status=500, times=1000)
    await world.start(qid=qid)
    stranger = await patient(paid_client, outbox, "other@example.org")
    refused = await stranger.call("POST", f"/api/v1/paid-chats/{qid}/cancel", {}, expect=404)
    assert refused["code"] == "not_found"
    cancelled = await world.patient.call("POST", f"/api/v1/paid-chats/{qid}/cancel", {})
    assert cancelled["state"] == "closed"
    assert cancelled["closed_reason"] == "cancelled"
    assert cancelled["charged_cents"] == 0
    again = await world.patient.call("POST", f"/api/v1/paid-chats/{qid}/cancel", {}, expect=409)
    assert again["code"] == "paid_chat_not_cancellable"
    calls = double.calls("checkout/sessions")
    double.faults.clear()  # Stripe is back: the job must still make nothing
    await world.advance(60)
    await until(lambda: _job_done(world, qid), WAIT_S, "the checkout job done")
    assert double.calls("checkout/sessions") == calls
    assert double.sessions == {}
    # With its session made, the chat is paid or left on the hosted page, not here.
    reply = await world.start()
    refused = await world.patient.call(
        "POST", f"/api/v1/paid-chats/{reply['thread_id']}/cancel", {}, expect=409
    )
    assert refused["code"] == "paid_chat_not_cancellable"


async def test_a_session_made_while_the_patient_cancelled_is_expired_not_offered(
    world: World, double: StripeDouble
) -> None:
    qid = question_id()
    double.fail("checkout/sessions", status=500, times=2)  # the start's try, the job's first
    await world.start(qid=qid)

    await until(lambda: _first_try_failed(world), WAIT_S, "the job's first try failed")
    # The job's next try is carried out at Stripe and answered late...
    double.fail("checkout/sessions", status=SLOW)
    await world.advance(6)
    await until(lambda: bool(double.sessions), WAIT_S, "a session made at Stripe")
    # ... while the patient gives up: she never saw a URL.
    cancelled = await world.patient.call("POST", f"/api/v1/paid-chats/{qid}/cancel", {})
    assert cancelled["closed_reason"] == "cancelled"
    [session_id] = double.sessions
    await until(
        lambda: double.sessions[session_id]["status"] == "expired", WAIT_S, "the session expired"
    )
    assert double.calls("/expire") == 1
    status = await world.patient.call("GET", f"/api/v1/paid-chats/{qid}")
    assert (status["state"], status["closed_reason"]) == ("closed", "cancelled")
    assert "checkout_url" not in status
    assert len(double.sessions) == 1


@pytest.mark.parametrize("forgery", ["unknown secret", "altered", "replayed late", "unsigned"])
async def test_forged_webhooks_are_refused_and_change_nothing(
    world: World, double: StripeDouble, forgery: str
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    (completed, _held) = double.pay(world.session_of(reply), "card")
    now = int(world.clock.now().timestamp())
    body, header = double.signed(completed)
    if forgery == "unknown secret":
        body, header = double.signed(completed, secrets=["whsec_attacker_secret"])
    elif forgery == "altered":
        body = body.replace(b'"unpaid"', b'"paid"')
    elif forgery == "replayed late":
        body, header = double.signed(completed, timestamp=now - 301)
    else:
        header = ""
    response = await world.client.post(
        "/api/v1/stripe/webhook", data=body, headers={"Stripe-Signature": header}
    )
    assert response.status == 400
    assert (await response.json())["code"] == "webhook_signature_invalid"
    await asyncio.sleep(0.3)
    assert await world.db["stripe_events"].count_documents({}) == 0
    assert (await world.chat(qid))["state"] == "pending_payment"
    assert (await world.chat(qid))["facts"] == []


async def test_either_secret_verifies_during_a_rotation(world: World, double: StripeDouble) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    (completed, held) = double.pay(world.session_of(reply), "card")
    assert await double.deliver(completed, secrets=["whsec_old_secret"]) == 200
    assert await double.deliver(held, secrets=["whsec_old_secret", "whsec_new_secret"]) == 200
    await world.reaches(qid, "queued", "held")


async def test_stripe_failures_between_call_and_record_converge_to_one_capture(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "card"))
    await world.reaches(qid, "queued", "held")
    double.fail("capture", status=500)
    await online(world.doctor, panel_id=PANEL)
    await world.doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
    await answer(world.doctor, world.panel, qid, verified(world.patient))
    await until(lambda: _calls(double, "/capture", 1), WAIT_S, "one capture")
    double.fail("capture", status=0)  # the next one is carried out and its answer lost
    await world.advance(6)
    await until(lambda: _calls(double, "/capture", 2), WAIT_S, "a second capture")
    assert (await world.chat(qid))["facts"].count("captured") == 0
    await world.advance(30)
    await world.reaches(qid, "answered", "captured")
    captured = [e for e in double.events if e["type"] == "payment_intent.succeeded"]
    assert len(captured) == 1  # three requests, one capture at Stripe
    keys = {key for _, path, key, _ in double.requests if path.endswith("/capture")}
    assert len(keys) == 1


async def _calls(double: StripeDouble, route: str, count: int) -> bool:
    return double.calls(route) >= count


async def test_a_price_change_never_alters_an_existing_pass(
    world: World,
    double: StripeDouble,
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    dearer = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        payments_panel_id=PANEL,
        payments_price_cents=900,
        payments_currency="usd",
        stripe_secret_key=Secret("sk_test_double"),
        stripe_webhook_secrets=Secret(SECRETS),
        stripe_api_base=double.url,
    )
    response = await dearer.get(f"/api/v1/paid-chats/{qid}", headers=world.patient.auth)
    kept = await response.json()
    assert (kept["amount_cents"], kept["currency"]) == (600, "eur")
    # Paid after the change, served by the new settings: the pass keeps its own terms.
    await double.deliver_all(double.pay(world.session_of(reply), "bancontact"))
    await world.reaches(qid, "queued", "paid")
    response = await dearer.get(f"/api/v1/paid-chats/{qid}", headers=world.patient.auth)
    kept = await response.json()
    assert (kept["amount_cents"], kept["currency"]) == (600, "eur")
    # A chat started under the new settings takes them.
    world.patient = replace(world.patient, client=dearer)
    later = await world.start()
    assert (later["amount_cents"], later["currency"]) == (900, "usd")
    session = double.sessions[world.session_of(later)]
    assert (session["amount_total"], session["currency"]) == (900, "usd")


async def test_a_charged_chat_has_a_printable_receipt_only_for_its_patient(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "card"))
    await world.reaches(qid, "queued", "held")
    path = f"/api/v1/payments/{qid}/receipt"
    # Not charged yet: nothing to receipt.
    response = await world.client.get(path, headers=world.patient.auth)
    assert response.status == 404
    await online(world.doctor, panel_id=PANEL)
    await world.doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
    await answer(world.doctor, world.panel, qid, verified(world.patient))
    await world.reaches(qid, "answered", "captured")
    response = await world.client.get(path, headers=world.patient.auth)
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    page = await response.text()
    for field in ("Seller", "Receipt number", qid, "Date of supply", "6.00 EUR", "VAT"):
        assert field in page
    stranger = await world.client.get(path, headers=world.doctor.auth)
    assert stranger.status == 404
    missing = await world.client.get(
        f"/api/v1/payments/{question_id()}/receipt", headers=world.doctor.auth
    )
    assert (await missing.json())["code"] == (await stranger.json())["code"]


async def test_a_process_stalled_between_the_capture_and_its_record_is_taken_over(
    world: World,
    double: StripeDouble,
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
) -> None:
    """The first process captures at Stripe and never records it (it hangs, as a
    killed one would); after its job lease runs out a second process takes the job
    over, sends the same idempotency key, and records Stripe's first answer."""
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "card"))
    await world.reaches(qid, "queued", "held")
    double.fail("capture", status=-1)
    await online(world.doctor, panel_id=PANEL)
    await world.doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
    await answer(world.doctor, world.panel, qid, verified(world.patient))
    await until(lambda: _calls(double, "/capture", 1), WAIT_S, "one capture")
    assert "captured" not in (await world.chat(qid))["facts"]
    assert double.intents[(await world.chat(qid))["payment_intent"]]["status"] == "succeeded"
    await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        jobs_poll_seconds=0.05,
        payments_panel_id=PANEL,
        stripe_secret_key=Secret("sk_test_double"),
        stripe_webhook_secrets=Secret(SECRETS),
        stripe_api_base=double.url,
    )
    clock.advance(31)  # past the first process's job lease
    await world.reaches(qid, "answered", "captured")
    assert double.calls("/capture") == 2
    assert len({key for _, path, key, _ in double.requests if path.endswith("/capture")}) == 1
    assert len([e for e in double.events if e["type"] == "payment_intent.succeeded"]) == 1


async def test_the_daily_reconciliation_counts_the_money_and_shows_mismatches(
    world: World, double: StripeDouble, clock: ManualClock
) -> None:
    answered = await world.start()
    await double.deliver_all(double.pay(world.session_of(answered), "card"))
    await world.reaches(answered["thread_id"], "queued", "held")
    await online(world.doctor, panel_id=PANEL)
    await world.doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
    await answer(world.doctor, world.panel, answered["thread_id"], verified(world.patient))
    await world.reaches(answered["thread_id"], "answered", "captured")
    # A dispute on it, and an event naming a chat we never had.
    (intent,) = list(double.intents)
    dispute = double._event(
        "charge.dispute.created", {"id": "dp_1", "payment_intent": intent, "metadata": {}}
    )
    stray = double._event(
        "checkout.session.completed",
        {"id": "cs_other", "payment_status": "paid", "metadata": {"thread_id": "X" * 22}},
    )
    assert await double.deliver_all([dispute, stray]) == [200, 200]
    await world.reaches(answered["thread_id"], "answered", "disputed")
    admin = world.admin
    day = clock.now().date().isoformat()
    path = f"/api/v1/admin/payments/reconciliation/{day}"
    report = await admin.call("GET", path)
    assert report["captured_cents"] == 600
    assert report["disputed"] == [answered["thread_id"]]
    assert [m["thread_id"] for m in report["mismatches"]] == ["X" * 22]
    refused = await world.patient.call("GET", path, expect=403)
    assert refused["code"] == "forbidden"
    bad = await admin.call("GET", "/api/v1/admin/payments/reconciliation/2026-13-40", expect=422)
    assert bad["code"] == "validation_failed"


async def test_a_paid_chat_needs_the_current_terms_accepted(
    world: World, double: StripeDouble, paid_client: Client, outbox: MemoryOutbox
) -> None:
    other = await patient(paid_client, outbox, "bob@example.org")
    world.patient, first = other, world.patient
    refused = await world.start(expect=403)
    assert refused["code"] == "consent_required"
    assert double.sessions == {}
    await accept_terms(other)
    await world.start()
    world.patient = first


async def test_a_paid_chats_moves_and_its_questions_are_audited(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "card"))
    await world.reaches(qid, "queued", "held")
    await online(world.doctor, panel_id=PANEL)
    await world.doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
    await answer(world.doctor, world.panel, qid, verified(world.patient))
    await world.reaches(qid, "answered", "captured")
    await world.advance(24 * 3600)
    await world.reaches(qid, "closed")

    # Each move is audited just after it is stored: wait for the last two entries.
    audited = {"action": "thread_state_changed", "subject": qid}

    async def all_audited() -> bool:
        return await world.db["audit_log"].count_documents(audited) >= 6

    await until(all_audited, WAIT_S, "every change audited")
    moves = [
        (doc["actor"], doc["details"]["kind"], doc["details"]["event"],
         doc["details"]["from"], doc["details"]["to"])
        async for doc in world.db["audit_log"].find(audited).sort("seq", 1)
    ]  # fmt: skip
    gp_id = world.doctor.account_id
    # The chat (its payment and window) and its question in the queue, each audited
    # where it moves; the window's end and the question's close are two jobs, in
    # either order.
    assert moves[:4] == [
        (None, "paid_chat", "paid", "pending_payment", "queued"),
        (gp_id, "paid", "claim", "queued", "claimed"),
        (gp_id, "paid", "answer", "claimed", "answered"),
        (gp_id, "paid_chat", "answer", "queued", "answered"),
    ]
    assert sorted(moves[4:], key=str) == sorted(
        [
            (None, "paid_chat", "window_ended", "answered", "closed"),
            (None, "paid", "close", "answered", "closed"),
        ],
        key=str,
    )
    assert await AuditStore(world.db).verify() is None


async def test_the_gp_queue_marks_a_paid_question_before_it_is_claimed(
    world: World, double: StripeDouble, outbox: MemoryOutbox
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "card"))
    await world.reaches(qid, "queued", "held")
    other = await patient(world.client, outbox, "bob@example.org")
    free = await ask(other, world.panel)
    await online(world.doctor, panel_id=PANEL)
    queue = await world.doctor.call("GET", f"/api/v1/panels/{PANEL}/queue")
    marks = {q["question_id"]: q["paid"] for q in queue["queued"]}
    assert marks == {qid: True, free["question_id"]: False}
    claimed = await world.doctor.call(
        "POST", f"/api/v1/panels/{PANEL}/claims", {"question_id": qid}, expect=201
    )
    assert (claimed["question_id"], claimed["paid"]) == (qid, True)


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
async def test_a_delayed_payment_queues_when_it_succeeds_and_closes_when_it_fails(
    world: World, double: StripeDouble, outcome: str
) -> None:
    """A delayed method (should one be enabled): the session completes unpaid and
    its outcome follows; the outcome first, the completion after, the outcome twice."""
    reply = await world.start()
    qid = reply["thread_id"]
    session = double.sessions[world.session_of(reply)]
    session.update(status="complete", payment_status="unpaid")
    completed = double._event("checkout.session.completed", session)
    paid = "paid" if outcome == "succeeded" else "unpaid"
    settled = double._event(
        f"checkout.session.async_payment_{outcome}", {**session, "payment_status": paid}
    )
    await double.deliver(settled)
    await double.deliver_all([completed, settled])
    if outcome == "succeeded":
        await world.reaches(qid, "queued", "completed", "paid")
        assert await world.db["panel_questions"].count_documents({"_id": qid}) == 1
    else:
        await world.reaches(qid, "closed", "completed", "failed")
        assert (await world.chat(qid))["closed_reason"] == "unpaid"
        assert await world.db["panel_questions"].find_one({"_id": qid}) is None
    assert await world.db["stripe_events"].count_documents({}) == 2


async def test_a_hold_that_lapsed_at_stripe_is_recorded_and_never_released_again(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "card"))
    await world.reaches(qid, "queued", "held")
    lapsed = double.lapse_hold((await world.chat(qid))["payment_intent"])
    await double.deliver_all([lapsed, lapsed])
    await world.reaches(qid, "queued", "hold_cancelled")
    await world.advance(4 * 3600)
    await world.reaches(qid, "refunded", "hold_cancelled")
    status = await world.patient.call("GET", f"/api/v1/paid-chats/{qid}")
    assert (status["charged_cents"], status["closed_reason"]) == (0, "unanswered")
    await asyncio.sleep(0.5)  # a release would have been asked for by now
    assert double.calls("/cancel") == 0
    assert double.calls("/capture") == 0


async def test_a_failed_refund_is_final_and_shown_to_the_admin(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "bancontact"))
    await world.reaches(qid, "queued", "paid")
    await world.advance(4 * 3600)
    await world.reaches(qid, "refunded", "refund_pending")
    (refund_id,) = double.refunds
    failed = double.settle_refund(refund_id, "failed")
    assert failed["type"] == "refund.failed"
    await double.deliver_all([failed, failed])
    await world.reaches(qid, "refunded", "refund_failed")
    day = reply["created_at"][:10]
    report = await world.admin.call("GET", f"/api/v1/admin/payments/reconciliation/{day}")
    assert {"thread_id": qid, "problem": "refund failed"} in report["mismatches"]
    looks = double.calls(f"/v1/refunds/{refund_id}")
    await world.advance(3600)  # the refund is followed no more, and not made again
    await asyncio.sleep(0.5)
    assert double.calls("/v1/refunds") == 1
    assert double.calls(f"/v1/refunds/{refund_id}") == looks


async def test_a_pending_refund_is_followed_to_its_end_without_its_webhook(
    world: World, double: StripeDouble
) -> None:
    reply = await world.start()
    qid = reply["thread_id"]
    await double.deliver_all(double.pay(world.session_of(reply), "bancontact"))
    await world.reaches(qid, "queued", "paid")
    await world.advance(4 * 3600)
    await world.reaches(qid, "refunded", "refund_pending")
    (refund_id,) = double.refunds
    await until(lambda: _calls(double, f"/v1/refunds/{refund_id}", 1), WAIT_S, "a first look")
    double.settle_refund(refund_id)  # settled at Stripe; its webhook is lost
    await world.advance(3600)
    await world.reaches(qid, "refunded", "refunded")
    assert double.calls("/v1/refunds") == 1


async def test_the_terms_of_a_chat_started_now_are_shown_before_it_starts(
    world: World,
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
) -> None:
    terms = await world.patient.call("GET", "/api/v1/paid-chats/terms")
    assert terms == {
        "price_cents": 600,
        "currency": "eur",
        "window_seconds": 24 * 3600,
        "sla_seconds": 4 * 3600,
    }
    anonymous = await world.client.get("/api/v1/paid-chats/terms")
    assert anonymous.status == 401
    refused = await world.doctor.call("GET", "/api/v1/paid-chats/terms", expect=403)
    assert refused["code"] == "patients_only"
    unpaid = await app_client(aiohttp_client, settings, clock, outbox)
    response = await unpaid.get("/api/v1/paid-chats/terms", headers=world.patient.auth)
    assert response.status == 503
    assert (await response.json())["code"] == "payments_not_configured"
