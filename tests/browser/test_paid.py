"""The paid general chat in two browsers: a patient sees the price before she writes,
pays in the widget (the Stripe test double's hosted page, tests/stripe_double.py,
stands in for Stripe Checkout), a GP sees the question marked paid in the queue and
answers in the console, both see the window's countdown, and the GP's early close
turns the chat read-only; with a one-minute window the chat turns read-only for both
at its end; an unanswered paid chat (its webhooks arriving after the patient's return)
ends with the patient told that nothing was charged; a red-flag intake ends on the
emergency screen with nothing started; the GP's console lists the chats answered for
payout and the moderation console the day's reconciliation.

The served process talks to the double with the real stripe SDK and receives its
really signed webhooks. It has no injectable clock, so the SLA and the window are the
shortest their settings allow (one minute each) where a test waits for their end.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from uuid import uuid4

import pytest
from playwright.async_api import expect
from pymongo import AsyncMongoClient

from chat_server.embedded.processes import free_port
from e2e_crypto.client.payloads import Text
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import PASSPHRASE, PASSWORD, People, unique_email
from tests.browser.conftest import Watched
from tests.browser.moderators import MODERATOR_PASSWORD, create_moderator
from tests.browser.test_moderation import sign_in
from tests.browser.test_panel import (
    KEY_DERIVATION_MS,
    LIVE_TIMEOUT,
    Panel,
    fill_intake,
    fits,
    gp_in_console,
    patient_at_intake,
)
from tests.browser.widget_menu import open_widget_menu
from tests.functional.command import Server, carechat_env
from tests.services import Services
from tests.stripe_double import StripeDouble

QUESTION: Final = "A rash on my arm for three days, itchy, no fever."
ANSWER: Final = "It looks like contact eczema: a moisturising cream twice a day."
SUMMARY: Final = "Summary: contact eczema, cream twice a day, see your GP if it spreads."
FOLLOW_UP: Final = "And may I still go swimming?"
GP_NOTE: Final = "Keep the rash dry after washing."
# The console reads a patient's follow-up at its next refresh (every 15 s).
CONSOLE_REFRESH_TIMEOUT: Final = 20_000
# The SLA's shortest setting, and the time the server's timer takes to act on it.
SLA_TIMEOUT: Final = 150_000
# A one-minute window, and the time the server's timer and the pages' polls take.
WINDOW_END_TIMEOUT: Final = 120_000


@dataclass(frozen=True, slots=True)
class PaidWorld:
    url: str
    double: StripeDouble
    panel: Panel
    people: People
    mongo_uri: str
    db_name: str

    async def chat_has(self, fact: str) -> None:
        """Waits until the one paid chat of this world records ``fact``."""
        mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(self.mongo_uri)
        try:
            for _ in range(LIVE_TIMEOUT // 100):
                if await mongo[self.db_name]["paid_chats"].count_documents({"facts": fact}):
                    return
                await asyncio.sleep(0.1)
        finally:
            await mongo.close()
        raise AssertionError(f"no paid chat recorded {fact!r}")


@pytest.fixture
async def world(
    request: pytest.FixtureRequest,
    services: Services,
    tmp_path: Path,
    watched: Watched,
    second: Watched,
) -> AsyncIterator[PaidWorld]:
    """A ``carechat serve`` of its own, pointed at a Stripe double started here, whose
    paid chats go to a fresh panel (a verified admin GP with keys, and a second GP).
    Parametrized indirectly, the chat's window in minutes (else the default day)."""
    window: dict[str, str] = {}
    if hasattr(request, "param"):
        window["payments_window_minutes"] = str(request.param)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db_name = f"paid_{uuid4().hex[:12]}"
    panel_id = f"general-{uuid4().hex[:8]}"
    async with StripeDouble() as double:
        double.webhook_url = f"{url}/api/v1/stripe/webhook"
        env = carechat_env(
            tmp_path / "data",
            port,
            mongodb_uri=services.mongo.uri,
            mongodb_db=db_name,
            redis_url=services.redis.url,
            redis_prefix=f"p{uuid4().hex[:12]}:",
            server_secret=secrets.token_urlsafe(32),
            trusted_proxies="127.0.0.1",
            payments_panel_id=panel_id,
            payments_sla_minutes="1",
            stripe_secret_key="sk_test_double",
            stripe_webhook_secrets=double.webhook_secret,
            stripe_api_base=double.url,
            **window,
        )
        server = Server(env, tmp_path / "serve.log")
        people = People(url, tmp_path / "data" / "outbox")
        try:
            server.wait_ready()
            admin = await people.person(unique_email("paid-admin"), "practitioner", "Dr Admin")
            await admin.create_keys()
            gp_email = unique_email("gp")
            gp = await people.person(gp_email, "practitioner", "Dr Lena Maes")
            operator = await people.operator(services.mongo.uri, db_name)
            for doctor in (admin, gp):
                await operator.api.request(
                    "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration"
                )
            await admin.panel.create(panel_id, "General practice")
            await admin.panel.commit_members(panel_id, [admin.account_id])
            yield PaidWorld(
                url,
                double,
                Panel(panel_id, "General practice", admin, gp, gp_email),
                people,
                services.mongo.uri,
                db_name,
            )
        finally:
            # The pages go before their server: a page left open would try to reconnect
            # to the stopped server, and that console error would fail the test.
            for watch in (watched, second):
                await watch.page.close()
            await people.close()
            server.kill()
            mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(services.mongo.uri)
            await mongo.drop_database(db_name)
            await mongo.close()


async def patient_pays(
    watched: Watched, world: PaidWorld, *, cancel: bool = False, window: str = "24 hours"
) -> None:
    """A patient signs in to the widget's paid chat, accepts the terms, fills the
    intake, sees the price with its VAT note and pays by card at the double's page."""
    page = watched.page
    # The double's hosted page has no favicon: its 404 is expected, nothing else.
    watched.expect_error(r"favicon\.ico")
    await patient_at_paid_intake(watched, world, window=window)
    await page.get_by_label("Age", exact=True).select_option(label="16 to 64 years")
    await page.get_by_label("Main symptom").select_option(label="Something else")
    await page.get_by_label("Since when").select_option(label="2 to 3 days")
    await page.get_by_label("Your question").fill(QUESTION)
    await page.get_by_role("button", name="Check and send").click()
    await expect(page.get_by_text("Price: €6.00")).to_be_visible()
    await expect(page.get_by_text("medical care is exempt from VAT")).to_be_visible()
    await page.get_by_role("link", name="Pay with Stripe").click()
    await expect(page.get_by_role("heading", name="Test double of Stripe Checkout")).to_be_visible()
    await expect(page.locator("#amount")).to_have_text("6.00 EUR")
    if cancel:
        await page.locator("#cancel").click()
    else:
        await page.locator("#pay-card").click()


async def patient_at_paid_intake(watched: Watched, world: PaidWorld, *, window: str) -> None:
    """A new patient signs in to the widget's paid chat, sees the price and the terms
    before anything else, accepts them and reaches the intake."""
    page = watched.page
    email = unique_email("patient")
    await world.people.person(email, name="Marie Dubois")
    await page.goto(f"{world.url}/widget?paid={world.panel.panel_id}")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("Recovery passphrase", exact=True).fill(PASSPHRASE)
    await page.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    await page.get_by_role("button", name="Create my keys").click()
    await expect(page.get_by_role("heading", name="A paid chat with a GP")).to_be_visible(
        timeout=KEY_DERIVATION_MS
    )
    # The price, before she writes anything.
    await expect(page.get_by_text("Price: €6.00")).to_be_visible()
    await expect(page.get_by_text(f"open {window} from the GP's first reply")).to_be_visible()
    # Keyboard: the terms are a checkbox and a button.
    await page.get_by_label("I accept the terms of the paid chat").focus()
    await page.keyboard.press("Space")
    await page.get_by_role("button", name="Continue").click()
    await expect(
        page.get_by_role("heading", name="Your question for the paid chat")
    ).to_be_visible()


async def test_a_patient_pays_a_gp_answers_the_countdown_shows_and_the_chat_ends_read_only(
    watched: Watched,
    second: Watched,
    world: PaidWorld,
) -> None:
    patient, gp = watched.page, second.page
    await gp_in_console(gp, world.url, world.panel)
    await patient_pays(watched, world)

    # Back from Checkout: the hold is in place, the chat waits for a GP.
    await expect(
        patient.get_by_role("heading", name="Your chat is waiting for a GP")
    ).to_be_visible(timeout=LIVE_TIMEOUT)
    await expect(patient.get_by_text("nothing is charged")).to_be_visible()
    await fits(patient)

    await gp.get_by_role("button", name="Go online").click()
    await expect(gp.locator("ol.queue-list > li")).to_have_count(1, timeout=LIVE_TIMEOUT)
    # Marked paid in the queue, before anyone claims it (answering captures the hold).
    await expect(gp.locator("ol.queue-list > li")).to_contain_text("Paid chat")
    await gp.get_by_role("button", name="Claim the oldest").click()
    await expect(gp.locator("article.intake")).to_contain_text(QUESTION)
    await gp.get_by_label("Your answer").fill(ANSWER)
    await gp.get_by_role("button", name="Send answer").click()

    # The console marks the chat as paid and counts its window down.
    await expect(gp.locator("section.paid-chat")).to_contain_text("Paid chat", timeout=LIVE_TIMEOUT)
    await expect(gp.locator("section.paid-chat")).to_contain_text("€6.00")
    await expect(gp.get_by_role("timer")).to_contain_text("Time left: 23 h")

    # The patient: the answer and the countdown; she writes back.
    await expect(patient.get_by_role("heading", name="Your chat with a GP")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    await expect(patient.locator("li.w-msg.theirs")).to_contain_text(ANSWER)
    await expect(patient.get_by_role("timer")).to_contain_text("Time left: 23 h")
    await patient.get_by_label("Your message").fill("Thank you!")
    await patient.get_by_role("button", name="Send", exact=True).click()
    await expect(patient.locator("li.w-msg.mine").last).to_contain_text("Thank you!")
    await watched.screenshots("paid-widget-chat")
    await fits(patient)
    # The card hold was captured at the first reply.
    assert world.double.calls("/capture") == 1

    # The console lists the open paid chat apart, with its time left.
    await expect(gp.get_by_role("heading", name="My open paid chats")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    # The GP closes with a summary: read-only for both.
    await gp.get_by_label("Closing summary").fill(SUMMARY)
    # The patient writes again while the GP types: her message repaints the question
    # (at the console's next refresh) and the summary being typed stays.
    await patient.get_by_label("Your message").fill(FOLLOW_UP)
    await patient.get_by_role("button", name="Send", exact=True).click()
    await expect(gp.locator("li.msg.theirs").last).to_contain_text(
        FOLLOW_UP, timeout=CONSOLE_REFRESH_TIMEOUT
    )
    await expect(gp.get_by_label("Closing summary")).to_have_value(SUMMARY)
    # She starts another message as the GP writes: his message re-renders her view, and
    # she goes on typing where she was; her view still follows the chat (the close).
    await patient.get_by_label("Your message").fill("One more thing:")
    paid_box = gp.locator("section.paid-chat")
    await paid_box.get_by_label("Message to the patient").fill(GP_NOTE)
    await paid_box.get_by_role("button", name="Send", exact=True).click()
    await expect(patient.locator("li.w-msg.theirs").last).to_contain_text(
        GP_NOTE, timeout=LIVE_TIMEOUT
    )
    await expect(patient.get_by_label("Your message")).to_be_focused()
    await expect(patient.get_by_label("Your message")).to_have_value("One more thing:")
    await gp.get_by_role("button", name="Close the chat with this summary").click()
    await expect(gp.get_by_text("Closed: read-only.")).to_be_visible(timeout=LIVE_TIMEOUT)
    # What the GP is paid for: the chats they answered and what the patients paid.
    payouts = gp.get_by_role("region", name="Paid chats I answered (for payout)")
    await expect(payouts).to_contain_text(
        "1 answered, €6.00 charged to patients", timeout=CONSOLE_REFRESH_TIMEOUT
    )
    await second.screenshots("paid-console-closed")
    await expect(patient.get_by_role("heading", name="This chat is closed")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    await expect(patient.get_by_text("The GP closed the chat.")).to_be_visible()
    await expect(patient.locator("li.w-msg.theirs").last).to_contain_text(SUMMARY)
    await expect(patient.get_by_label("Your message")).to_have_count(0)

    # Her payments: 6 EUR charged, with a receipt.
    await open_widget_menu(patient, "My payments")
    await expect(patient.get_by_text("Paid €6.00")).to_be_visible()
    # The receipt is saved (fetched with her session's token: a plain link carries
    # none), a printable page with the legal fields.
    async with patient.expect_download() as saved:
        await patient.get_by_role("button", name="Receipt").click()
    download = await saved.value
    assert download.suggested_filename.startswith("carechat-receipt-")
    assert download.suggested_filename.endswith(".html")
    page_text = await asyncio.to_thread(Path(await download.path()).read_text)
    for legal in ("Seller", "Receipt number", "Date of supply", "6.00 EUR", "Exempt from VAT"):
        assert legal in page_text
    await watched.screenshots("paid-widget-payments")


async def test_an_unanswered_paid_chat_ends_with_the_patient_told_nothing_was_charged(
    watched: Watched, world: PaidWorld
) -> None:
    patient = watched.page
    # Stripe's webhooks come a few seconds after she is back: she is told it is being
    # confirmed, then that it waits for a GP.
    world.double.hosted_webhook_delay = 4.0
    await patient_pays(watched, world)
    await expect(patient.get_by_role("heading", name="Confirming your payment")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    await expect(
        patient.get_by_role("heading", name="Your chat is waiting for a GP")
    ).to_be_visible(timeout=LIVE_TIMEOUT)
    # No GP claims it: at the SLA the hold is released and she is told.
    await expect(patient.get_by_text("No GP answered in time: nothing was charged.")).to_be_visible(
        timeout=SLA_TIMEOUT
    )
    assert world.double.calls("/cancel") == 1
    assert world.double.calls("/capture") == 0
    await watched.screenshots("paid-widget-unanswered")
    await fits(patient)
    # The same end in French and Dutch.
    await patient.locator("#w-language").select_option("fr")
    await expect(patient.get_by_text("rien n'a été débité")).to_be_visible()
    await patient.locator("#w-language").select_option("nl")
    await expect(patient.get_by_text("er werd niets aangerekend")).to_be_visible()


async def test_a_patient_who_cancels_at_checkout_is_told_nothing_was_charged_and_may_pay_later(
    watched: Watched, world: PaidWorld
) -> None:
    patient = watched.page
    await patient_pays(watched, world, cancel=True)
    await expect(patient.get_by_role("heading", name="Payment cancelled")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    await expect(patient.get_by_text("Nothing was charged.")).to_be_visible()
    # The session is still open: the same Checkout page, and nothing reached the queue.
    await patient.get_by_role("link", name="Pay with Stripe").click()
    await expect(patient.locator("#amount")).to_have_text("6.00 EUR")
    assert world.double.calls("/v1/checkout/sessions") == 1


async def test_a_platform_admin_reads_the_days_reconciliation_in_the_moderation_console(
    watched: Watched, second: Watched, world: PaidWorld
) -> None:
    """A paid chat answered (its card hold captured) and a Stripe event naming no chat
    of ours: the moderation console's Payments section shows the day's money and the
    mismatch."""
    await patient_pays(watched, world)
    await expect(
        watched.page.get_by_role("heading", name="Your chat is waiting for a GP")
    ).to_be_visible(timeout=LIVE_TIMEOUT)
    doctor = world.panel.admin
    await doctor.panel.online(world.panel.panel_id)
    claimed = await doctor.panel.claim(world.panel.panel_id)
    await doctor.panel.reply(str(claimed["question_id"]), Text(ANSWER), answer=True)
    await world.chat_has("captured")
    stray = world.double._event(
        "checkout.session.completed",
        {"id": "cs_elsewhere", "payment_status": "paid", "metadata": {"thread_id": "X" * 22}},
    )
    assert await world.double.deliver(stray) == 200

    page = second.page
    moderator = await create_moderator(world.mongo_uri, world.db_name)
    await page.goto(f"{world.url}/moderation")
    await sign_in(page, moderator, MODERATOR_PASSWORD)
    await page.get_by_role("button", name="Payments").click()
    await expect(
        page.get_by_role("heading", name="Paid chats: daily reconciliation")
    ).to_be_visible()
    report = page.locator("article.reconciliation")
    captured = report.locator("dt", has_text="Card holds captured")
    await expect(captured.locator("xpath=following-sibling::dd[1]")).to_have_text("€6.00")
    mismatch = page.get_by_role("row").filter(has_text="X" * 22)
    await expect(mismatch).to_contain_text("names no known chat")
    await second.screenshots("paid-reconciliation")
    await fits(page)
    # Another day: nothing happened.
    await page.get_by_label("Day (UTC)").fill("2020-01-01")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_text("No mismatch")).to_be_visible()


@pytest.mark.parametrize("world", [1], indirect=True)
async def test_the_chat_turns_read_only_for_both_when_its_window_ends(
    watched: Watched, second: Watched, world: PaidWorld
) -> None:
    """A one-minute window (the setting is in minutes): the countdown runs out and the
    chat turns read-only in the widget and in the console without anyone closing it."""
    patient, gp = watched.page, second.page
    await gp_in_console(gp, world.url, world.panel)
    await patient_pays(watched, world, window="1 minute")
    await expect(
        patient.get_by_role("heading", name="Your chat is waiting for a GP")
    ).to_be_visible(timeout=LIVE_TIMEOUT)
    await gp.get_by_role("button", name="Go online").click()
    await expect(gp.locator("ol.queue-list > li")).to_have_count(1, timeout=LIVE_TIMEOUT)
    await gp.get_by_role("button", name="Claim the oldest").click()
    await gp.get_by_label("Your answer").fill(ANSWER)
    await gp.get_by_role("button", name="Send answer").click()
    await expect(gp.get_by_role("timer")).to_contain_text("Time left: 0 min", timeout=LIVE_TIMEOUT)
    await expect(patient.get_by_role("timer")).to_contain_text(
        "Time left: 0 min", timeout=LIVE_TIMEOUT
    )
    await expect(patient.get_by_label("Your message")).to_be_visible()
    # The minute runs out: read-only for both.
    await expect(patient.get_by_role("heading", name="This chat is closed")).to_be_visible(
        timeout=WINDOW_END_TIMEOUT
    )
    await expect(patient.get_by_text("The time of the chat is over.")).to_be_visible()
    await expect(patient.locator("li.w-msg.theirs").last).to_contain_text(ANSWER)
    await expect(patient.get_by_label("Your message")).to_have_count(0)
    await expect(gp.locator("section.paid-chat")).to_contain_text(
        "read-only", timeout=WINDOW_END_TIMEOUT
    )
    await expect(gp.get_by_label("Closing summary")).to_have_count(0)
    await watched.screenshots("paid-widget-window-ended")
    await fits(patient)


async def test_a_red_flag_intake_ends_on_the_emergency_screen_and_nothing_is_charged(
    watched: Watched, world: PaidWorld
) -> None:
    page = watched.page
    await patient_at_paid_intake(watched, world, window="24 hours")
    await fill_intake(page, "Cough", "Since this morning I have chest pain when I breathe")
    await expect(page.get_by_role("heading", name="Call an emergency number now")).to_be_visible()
    await expect(page.get_by_role("link", name="Call 112")).to_have_attribute("href", "tel:112")
    await expect(page.get_by_role("link", name="Pay with Stripe")).to_have_count(0)
    await watched.screenshots("paid-widget-emergency")
    # Nothing was started: no Checkout Session, no paid chat, nothing queued.
    assert world.double.sessions == {}
    assert world.double.requests == []
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(world.mongo_uri)
    try:
        assert await mongo[world.db_name]["paid_chats"].count_documents({}) == 0
    finally:
        await mongo.close()


async def test_a_gps_paid_offer_takes_the_patient_from_her_free_question_to_the_paid_chat(
    watched: Watched, second: Watched, world: PaidWorld
) -> None:
    patient, gp = watched.page, second.page
    await install_axe(patient.context)
    await gp_in_console(gp, world.url, world.panel)
    await patient_at_intake(patient, world.url, world.people, world.panel.panel_id)
    await fill_intake(patient, "Fever", QUESTION)
    await expect(patient.get_by_text("Your place in the queue: 1")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )

    # The GP turns the free question into a paid-chat offer at the configured price.
    await gp.get_by_role("button", name="Go online").click()
    await expect(gp.locator("ol.queue-list > li")).to_have_count(1, timeout=LIVE_TIMEOUT)
    await gp.get_by_role("button", name="Claim the oldest").click()
    await expect(gp.locator("article.intake")).to_contain_text(QUESTION)
    await gp.get_by_text("Convert").click()
    await expect(gp.get_by_text("The patient pays the paid-chat price: €6.00")).to_be_visible()
    await gp.get_by_label("Note (optional)").fill(GP_NOTE)
    await gp.get_by_role("button", name="Send the offer").click()

    # Her card: the price her paid chat costs, the note, and the way to take it up.
    card = patient.locator("li[data-kind=paid_chat_offer]")
    await expect(card).to_contain_text("Paid chat offer: €6.00", timeout=LIVE_TIMEOUT)
    await expect(card).to_contain_text(GP_NOTE)
    start = card.get_by_role("button", name="Start a paid chat")
    await expect(start).to_be_visible(timeout=LIVE_TIMEOUT)
    inaccessible = await violations_at_sizes(patient, "widget paid offer")
    await fits(patient)
    await watched.screenshots("paid-offer-card")
    await patient.locator("#w-language").select_option("fr")
    await expect(card.get_by_role("button")).to_have_text("Commencer une consultation payante")
    await patient.locator("#w-language").select_option("nl")
    await expect(card.get_by_role("button")).to_have_text("Een betaald gesprek starten")
    await patient.locator("#w-language").select_option("en")
    address = patient.url

    # The button opens the paid chat's first step (its terms); nothing in the address.
    await card.get_by_role("button", name="Start a paid chat").click()
    await expect(patient.get_by_role("heading", name="A paid chat with a GP")).to_be_visible()
    await expect(patient.get_by_label("I accept the terms of the paid chat")).to_be_visible()
    assert patient.url == address
    inaccessible |= await violations_at_sizes(patient, "widget paid terms")
    await fits(patient)
    assert inaccessible == {}, inaccessible


async def patient_sends_paid_question(watched: Watched, world: PaidWorld) -> None:
    """A new patient through the terms and the intake, up to "Check and send"."""
    page = watched.page
    await patient_at_paid_intake(watched, world, window="24 hours")
    await page.get_by_label("Age", exact=True).select_option(label="16 to 64 years")
    await page.get_by_label("Main symptom").select_option(label="Something else")
    await page.get_by_label("Since when").select_option(label="2 to 3 days")
    await page.get_by_label("Your question").fill(QUESTION)
    await page.get_by_role("button", name="Check and send").click()


async def test_stripe_failing_the_start_shows_preparing_then_reaches_the_checkout_page(
    watched: Watched, world: PaidWorld
) -> None:
    page = watched.page
    watched.expect_error(r"favicon\.ico")  # the double's hosted page has none
    # The start's own try and the job's first fail; its retry (5 s later) succeeds.
    world.double.fail("checkout/sessions", status=500, times=2)
    await patient_sends_paid_question(watched, world)
    await expect(page.get_by_role("heading", name="Preparing your payment…")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    await expect(page.get_by_role("button", name="Cancel the chat")).to_be_visible()
    await page.screenshot(path="test-output/paid-preparing.png")
    await expect(page.get_by_role("link", name="Pay with Stripe")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    await page.get_by_role("link", name="Pay with Stripe").click()
    await expect(page.get_by_role("heading", name="Test double of Stripe Checkout")).to_be_visible()
    await expect(page.locator("#amount")).to_have_text("6.00 EUR")
    assert len(world.double.sessions) == 1
    assert world.double.calls("/v1/checkout/sessions") == 3


async def test_a_patient_gives_up_while_the_payment_is_prepared_and_nothing_is_charged(
    watched: Watched, world: PaidWorld
) -> None:
    page = watched.page
    world.double.fail("checkout/sessions", status=500, times=1000)
    await patient_sends_paid_question(watched, world)
    await expect(page.get_by_role("heading", name="Preparing your payment…")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    await page.get_by_role("button", name="Cancel the chat").click()
    await expect(page.get_by_role("heading", name="This chat is closed")).to_be_visible()
    await expect(page.get_by_text("You cancelled the chat: nothing was charged.")).to_be_visible()
    assert world.double.sessions == {}
