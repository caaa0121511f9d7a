"""The GP panel in two browsers: a patient asks a free question in the widget, a GP
claims and answers it in the console (/panel), through the shared encrypted queue;
a red-flag intake ends on the emergency screen with nothing queued.

The panel itself (its admin, the signed epochs, the GP's verified registration) is
set up through the Python SDK, as a panel admin's software would; the patient and
the answering GP are only ever the pages, driven by labels and roles.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final
from uuid import uuid4

import pytest
from playwright.async_api import Page, ViewportSize, expect
from pymongo import AsyncMongoClient

from e2e_crypto.client import CareChatClient
from e2e_crypto.client.payloads import PaidChatOffer, Text
from e2e_crypto.client.triage import Intake
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import People, unique_email
from tests.browser.conftest import Watched
from tests.browser.signin import sign_in_and_create_keys
from tests.services import Services

PHONE: Final[ViewportSize] = {"width": 375, "height": 812}
LIVE_TIMEOUT: Final = 15_000
# Sealing the key backup runs Argon2id in the page: seconds on a busy machine.
KEY_DERIVATION_MS: Final = 30_000
ANSWER: Final = "Rest, drink plenty and take paracetamol if the fever bothers you."
QUESTION_TEXT: Final = "38.5 since Tuesday and a headache, what should I take?"
DRAFT: Final = "Tiredness for weeks deserves a proper talk:"
FOLLOW_UP: Final = "I also sleep badly."
# Switches the widget's language as its selector does.
RELANGUAGE: Final = """(lang) => {
  const select = document.getElementById("w-language");
  select.value = lang;
  select.dispatchEvent(new Event("change"));
}"""
# The console reads a patient's follow-up at its next refresh (every 15 s).
CONSOLE_REFRESH_TIMEOUT: Final = 20_000


@dataclass(frozen=True, slots=True)
class Panel:
    panel_id: str
    name: str
    admin: CareChatClient
    gp: CareChatClient
    gp_email: str


@pytest.fixture
async def panel(people: People, services: Services, carechat_db_name: str) -> Panel:
    """A panel whose admin is a verified GP with keys (SDK), and a second verified GP
    without keys yet: the console creates them, then the admin adds that browser."""
    admin = await people.person(unique_email("panel-admin"), "practitioner", "Dr Admin")
    await admin.create_keys()
    gp_email = unique_email("gp")
    gp = await people.person(gp_email, "practitioner", "Dr Lena Maes")
    operator = await people.operator(services.mongo.uri, carechat_db_name)
    for doctor in (admin, gp):
        await operator.api.request(
            "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration"
        )
    suffix = uuid4().hex[:8]
    panel_id = f"covid-{suffix}"
    await admin.panel.create(panel_id, f"Covid-19 questions {suffix}")
    await admin.panel.commit_members(panel_id, [admin.account_id])
    return Panel(panel_id, f"Covid-19 questions {suffix}", admin, gp, gp_email)


async def patient_at_intake(page: Page, carechat: str, people: People, panel_id: str) -> str:
    """A patient (made through the SDK) signs in to the widget of ``panel_id``, creates
    keys there and lands on the free question's intake."""
    email = unique_email("patient")
    await people.person(email, name="Marie Dubois")
    await page.goto(f"{carechat}/widget?panel={panel_id}")
    await page.get_by_role("button", name="Sign in").click()
    await sign_in_and_create_keys(page, email)
    await expect(page.get_by_role("heading", name="Ask a GP a free question")).to_be_visible(
        timeout=KEY_DERIVATION_MS
    )
    return email


async def fill_intake(page: Page, symptom: str, text: str) -> None:
    await page.get_by_label("Age", exact=True).select_option(label="16 to 64 years")
    await page.get_by_label("Main symptom").select_option(label=symptom)
    await page.get_by_label("Since when").select_option(label="2 to 3 days")
    await page.get_by_label("Diabetes").check()
    await page.get_by_label("Your question").fill(text)
    await page.get_by_role("button", name="Check and send").click()


async def gp_in_console(page: Page, carechat: str, panel: Panel) -> None:
    """The GP signs in to the console, creates this browser's keys, is added to the
    panel's next epoch by its admin, and checks again."""
    await page.goto(f"{carechat}/panel?panel={panel.panel_id}")
    await sign_in_and_create_keys(page, panel.gp_email)
    # Not in the panel's epoch yet: the console says so and reads nothing.
    await expect(page.get_by_role("alert")).to_contain_text(
        "not a member", timeout=KEY_DERIVATION_MS
    )
    await panel.admin.panel.commit_members(
        panel.panel_id, [panel.admin.account_id, panel.gp.account_id]
    )
    await page.get_by_role("button", name="Check again").click()
    await expect(page.get_by_role("heading", name=panel.name)).to_be_visible()


async def fits(page: Page) -> None:
    await page.set_viewport_size(PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_a_patient_and_a_gp_exchange_a_question_and_an_answer_through_the_queue(
    watched: Watched,
    second: Watched,
    carechat: str,
    people: People,
    panel: Panel,
    services: Services,
    carechat_db_name: str,
) -> None:
    patient, gp = watched.page, second.page
    await install_axe(gp.context)
    await gp_in_console(gp, carechat, panel)
    await expect(gp.get_by_text("Go online to see and claim")).to_be_visible()
    inaccessible = await violations_at_sizes(gp, "panel console")

    await patient_at_intake(patient, carechat, people, panel.panel_id)
    await fill_intake(patient, "Fever", QUESTION_TEXT)
    await expect(
        patient.get_by_role("heading", name="Your question is waiting for a GP")
    ).to_be_visible()
    await expect(patient.get_by_text("Your place in the queue: 1")).to_be_visible()
    await expect(patient.get_by_text("GPs online: 0")).to_be_visible()
    await watched.screenshots("panel-widget-waiting")
    await fits(patient)

    # The GP goes online: the patient sees it live; the queue offers the question.
    await gp.get_by_role("button", name="Go online").click()
    await expect(patient.get_by_text("GPs online: 1")).to_be_visible(timeout=LIVE_TIMEOUT)
    queued = gp.locator("ol.queue-list > li")
    await expect(queued).to_have_count(1, timeout=LIVE_TIMEOUT)
    await expect(gp.locator("[data-figure=queued] dd")).to_have_text("1")
    await gp.get_by_role("button", name="Claim the oldest").click()

    # The intake summary comes first, opened in the GP's browser from the group key.
    intake = gp.locator("article.intake")
    await expect(intake).to_contain_text("Fever")
    await expect(intake).to_contain_text("16 to 64 years")
    await expect(intake).to_contain_text("Diabetes")
    await expect(intake).to_contain_text(QUESTION_TEXT)
    await expect(
        patient.get_by_role("heading", name="A GP is reading your question")
    ).to_be_visible(timeout=LIVE_TIMEOUT)
    await second.screenshots("panel-console-question")
    inaccessible |= await violations_at_sizes(gp, "panel question")
    assert inaccessible == {}, inaccessible
    await fits(gp)
    await gp.set_viewport_size({"width": 1280, "height": 800})

    await gp.get_by_label("Your answer").fill(ANSWER)
    await gp.get_by_role("button", name="Send answer").click()
    await expect(gp.locator("li.msg.mine")).to_contain_text(ANSWER)

    # The patient reads the answer live and rates it; the panel sees the rating.
    await expect(patient.get_by_role("heading", name="Your answer")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    await expect(patient.locator("li.w-msg.theirs")).to_contain_text(ANSWER)
    await patient.get_by_label("Follow-up question").fill("And for how long?")
    await patient.get_by_label("5 out of 5").check()
    await patient.get_by_label("Comment (optional, encrypted to the panel)").fill("Very clear")
    # A live status re-renders the view (here a language switch there and back does):
    # what she wrote and chose is still there.
    for lang in ("fr", "en"):
        await patient.evaluate(RELANGUAGE, lang)
    await expect(patient.get_by_label("Follow-up question")).to_have_value("And for how long?")
    await expect(patient.get_by_label("5 out of 5")).to_be_checked()
    await expect(patient.get_by_label("Comment (optional, encrypted to the panel)")).to_have_value(
        "Very clear"
    )
    await patient.get_by_role("button", name="Send my rating").click()
    await expect(patient.get_by_text("Thank you for your rating.")).to_be_visible()
    await expect(gp.locator("[data-figure=rating] dd")).to_have_text(
        "5 / 5 (1)", timeout=LIVE_TIMEOUT
    )
    # The comment, sealed to the panel, is opened in the GP's browser.
    latest = gp.locator("section.ratings li.rating")
    await expect(latest).to_have_count(1, timeout=LIVE_TIMEOUT)
    await expect(latest).to_contain_text("5 / 5")
    await expect(latest.locator(".rating-comment")).to_have_text("Very clear")
    await watched.screenshots("panel-widget-answer")
    await second.screenshots("panel-console-rated")

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri)
    try:
        db = mongo[carechat_db_name]
        [question] = await db["panel_questions"].find({"panel": panel.panel_id}).to_list()
        assert question["state"] == "answered"
        assert question["answered_by"] == panel.gp.account_id
        # Only ciphertext reached the server: not the question, the answer or the comment.
        for name in ("messages", "panel_questions", "panel_ratings"):
            async for doc in db[name].find({}):
                stored = repr(doc)
                for plaintext in (QUESTION_TEXT, ANSWER, "Very clear"):
                    assert plaintext not in stored
    finally:
        await mongo.close()


async def test_a_red_flag_intake_ends_on_the_emergency_screen_with_nothing_queued(
    watched: Watched,
    carechat: str,
    people: People,
    panel: Panel,
    services: Services,
    carechat_db_name: str,
) -> None:
    page = watched.page
    await install_axe(page.context)
    await page.goto(f"{carechat}/panel?panel={panel.panel_id}")
    await expect(page.get_by_label("E-mail address")).to_be_visible()
    inaccessible = await violations_at_sizes(page, "panel sign-in")
    await patient_at_intake(page, carechat, people, panel.panel_id)
    inaccessible |= await violations_at_sizes(page, "widget free question")
    await fill_intake(page, "Cough", "Since this morning I have chest pain when I breathe")
    await expect(page.get_by_role("heading", name="Call an emergency number now")).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "widget emergency")
    assert inaccessible == {}, inaccessible
    await expect(page.get_by_role("link", name="Call 112")).to_have_attribute("href", "tel:112")
    await expect(page.get_by_role("link", name="Call 100")).to_have_attribute("href", "tel:100")
    await expect(page.get_by_text("In France: 15 or 112")).to_be_visible()
    await watched.screenshots("panel-widget-emergency")
    await fits(page)

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri)
    try:
        queued = await mongo[carechat_db_name]["panel_questions"].count_documents(
            {"panel": panel.panel_id}
        )
        assert queued == 0
    finally:
        await mongo.close()

    # The same screen in French, then back in English.
    await page.get_by_label("Language").select_option("fr")
    await expect(
        page.get_by_role("heading", name="Appelez un numéro d'urgence maintenant")
    ).to_be_visible()
    await expect(page.get_by_role("link", name="Appeler le 112")).to_be_visible()
    await expect(page.get_by_text("Toutes les urgences")).to_be_visible()
    await page.get_by_label("Langue").select_option("en")

    # Back to the intake by keyboard: nothing was sent, the form is there again.
    await page.get_by_role("button", name="I called, go back").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Ask a GP a free question")).to_be_visible()


async def test_the_console_parks_resumes_releases_hands_over_and_converts(
    watched: Watched, carechat: str, people: People, panel: Panel
) -> None:
    gp = watched.page
    await gp_in_console(gp, carechat, panel)
    patient = await people.person(unique_email("asker"), name="Jan Peeters")
    await patient.create_keys()
    first = await patient.panel.ask(
        panel.panel_id, Intake("16_64", "cough", "today", ("none",), "A dry cough")
    )
    assert first.question_id is not None

    # Keyboard only: go online, claim the oldest.
    await gp.get_by_role("button", name="Go online").focus()
    await gp.keyboard.press("Enter")
    await expect(gp.locator("ol.queue-list > li")).to_have_count(1, timeout=LIVE_TIMEOUT)
    # A live figure changes (a colleague comes online): the queue's buttons stay the
    # same elements (a copy swapped in under the pointer swallowed the click).
    claim = await gp.get_by_role("button", name="Claim the oldest").element_handle()
    await panel.admin.panel.online(panel.panel_id)
    await expect(gp.locator("[data-figure=online] dd")).to_have_text("2", timeout=LIVE_TIMEOUT)
    assert await claim.evaluate("el => el.isConnected")
    await gp.get_by_role("button", name="Claim the oldest").focus()
    await gp.keyboard.press("Enter")
    await expect(gp.locator("article.intake")).to_contain_text("A dry cough")

    # Park (waiting for the patient), then resume.
    await gp.get_by_role("button", name="Park (waiting for the patient)").click()
    question = gp.locator("section.question")
    await expect(question.locator(".badge")).to_have_text("waiting for the patient")
    assert (await patient.panel.status(first.question_id))["state"] == "parked"
    await gp.get_by_role("button", name="Resume").click()
    await expect(question.locator(".badge")).to_have_text("claimed")

    # Release: back in the queue, where this GP claims it again by name.
    await gp.get_by_role("button", name="Release").click()
    await expect(gp.locator("section.question")).to_have_count(0)
    await expect(gp.locator("ol.queue-list > li")).to_have_count(1, timeout=LIVE_TIMEOUT)
    assert (await patient.panel.status(first.question_id))["state"] == "queued"
    await gp.locator("ol.queue-list > li").get_by_role("button", name="Claim").click()
    await expect(gp.locator("article.intake")).to_contain_text("A dry cough")

    # Hand it over to the admin, who is online: first in the admin's list.
    await panel.admin.panel.online(panel.panel_id)
    # Colleagues are named, not numbered.
    await gp.get_by_label("Colleague").select_option(label="Dr Admin")
    await gp.get_by_role("button", name="Hand over").click()
    await expect(gp.locator("section.question")).to_have_count(0)
    status = await patient.panel.status(first.question_id)
    assert status["state"] == "queued"
    assert status["offered_to"] == panel.admin.account_id
    queue = await panel.admin.panel.queue(panel.panel_id)
    assert queue["queued"][0]["question_id"] == first.question_id
    await panel.admin.panel.claim(panel.panel_id, first.question_id)

    # Another patient's question becomes a paid-chat offer, which her SDK opens (a
    # second question of the first patient would collapse into her open one).
    patient = await people.person(unique_email("asker"), name="Els Claes")
    await patient.create_keys()
    second = await patient.panel.ask(
        panel.panel_id, Intake("16_64", "fatigue", "over_a_week", (), "Tired for weeks")
    )
    assert second.question_id is not None
    await expect(gp.locator("ol.queue-list > li")).to_have_count(1, timeout=LIVE_TIMEOUT)
    await gp.get_by_role("button", name="Claim the oldest").click()
    await expect(gp.locator("article.intake")).to_contain_text("Tired for weeks")
    await gp.get_by_label("Your answer").fill(DRAFT)
    await gp.get_by_text("Convert").click()
    # The price is not the GP's to type: the configured paid-chat price, read-only.
    await expect(gp.get_by_text("The patient pays the paid-chat price: €6.00")).to_be_visible()
    await expect(gp.get_by_role("spinbutton")).to_have_count(0)
    await gp.get_by_label("Note (optional)").fill("A longer talk")
    # The patient writes meanwhile: her message repaints the question at the console's
    # next refresh, and what the GP typed there, and the opened "Convert", stay.
    await patient.panel.reply(second.question_id, Text(FOLLOW_UP))
    await expect(question.locator("li.msg.theirs").last).to_contain_text(
        FOLLOW_UP, timeout=CONSOLE_REFRESH_TIMEOUT
    )
    await expect(gp.get_by_label("Note (optional)")).to_be_visible()
    await expect(gp.get_by_label("Note (optional)")).to_have_value("A longer talk")
    await expect(gp.get_by_label("Your answer")).to_have_value(DRAFT)
    await gp.get_by_role("button", name="Send the offer").click()
    await expect(question.locator(".badge")).to_have_text("closed")
    converted = await patient.panel.status(second.question_id)
    assert converted["outcome"] == "paid_offer"
    *_, offer = await patient.panel.messages(second.question_id)
    assert offer.payload == PaidChatOffer(600, "EUR", "A longer talk")
    assert offer.sender_account == panel.gp.account_id


async def test_a_waiting_patient_may_withdraw_her_question(
    watched: Watched,
    carechat: str,
    people: People,
    panel: Panel,
    services: Services,
    carechat_db_name: str,
) -> None:
    page = watched.page
    await patient_at_intake(page, carechat, people, panel.panel_id)
    await fill_intake(page, "Sore throat", "My throat hurts when I swallow")
    await expect(page.get_by_text("Your place in the queue: 1")).to_be_visible()
    await page.get_by_role("button", name="Withdraw my question").click()
    await expect(page.get_by_text("You withdrew this question.")).to_be_visible()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri)
    try:
        [question] = await (
            mongo[carechat_db_name]["panel_questions"].find({"panel": panel.panel_id}).to_list()
        )
        assert question["state"] == "closed"
    finally:
        await mongo.close()
    # A new question starts from the intake again.
    await page.get_by_role("button", name="Ask another question").click()
    await expect(page.get_by_role("heading", name="Ask a GP a free question")).to_be_visible()


async def test_the_console_renews_the_lease_while_the_gp_works_and_hears_of_a_removal(
    watched: Watched, carechat: str, people: People, panel: Panel
) -> None:
    gp = watched.page
    # The shortest lease a panel allows: the console renews at a third of it.
    await panel.admin.api.request(
        "PATCH", f"/api/v1/panels/{panel.panel_id}/settings", {"lease_seconds": 30}
    )
    await gp_in_console(gp, carechat, panel)
    patient = await people.person(unique_email("asker"), name="Noor Wouters")
    await patient.create_keys()
    asked = await patient.panel.ask(
        panel.panel_id, Intake("65_plus", "fever", "today", ("heart_disease",), "")
    )
    assert asked.question_id is not None
    await gp.get_by_role("button", name="Go online").click()
    await gp.get_by_role("button", name="Claim the oldest").click()
    await expect(gp.locator("article.intake")).to_contain_text("Heart disease")
    first_lease = (await patient.panel.status(asked.question_id))["lease_until"]
    await gp.get_by_label("Your answer").fill("Still typing…")
    # Meanwhile the patient adds something: it reaches the open question by itself.
    await patient.panel.reply(asked.question_id, Text("It went up to 39.2 tonight"))
    await asyncio.sleep(12)
    renewed = await patient.panel.status(asked.question_id)
    assert renewed["state"] == "claimed"
    assert renewed["lease_until"] > first_lease
    await expect(gp.locator("li.msg.theirs").last).to_contain_text(
        "It went up to 39.2 tonight", timeout=LIVE_TIMEOUT
    )
    # The draft and the focus survived the live updates meanwhile.
    await expect(gp.get_by_label("Your answer")).to_have_value("Still typing…")
    await expect(gp.get_by_label("Your answer")).to_be_focused()

    # The admin's next epoch leaves this GP out: the console says so at once, and the
    # question went back to the queue.
    await panel.admin.panel.commit_members(panel.panel_id, [panel.admin.account_id])
    await expect(gp.get_by_role("alert")).to_contain_text(
        "You were removed from this panel", timeout=LIVE_TIMEOUT
    )
    assert (await patient.panel.status(asked.question_id))["state"] == "queued"
    await gp.get_by_label("Language").select_option("nl")
    await expect(gp.get_by_role("alert")).to_contain_text("U bent uit dit panel verwijderd")


async def test_past_the_maximum_wait_the_widget_tells_her_and_she_keeps_waiting(
    watched: Watched, carechat: str, people: People, panel: Panel
) -> None:
    """Nobody claims within the panel's maximum wait (here its shortest, a minute): the
    waiting screen says so live, and she chooses to keep waiting."""
    await panel.admin.panel.change_settings(panel.panel_id, {"max_wait_minutes": 1})
    page = watched.page
    await patient_at_intake(page, carechat, people, panel.panel_id)
    await fill_intake(page, "Cough", "A dry cough for two days")
    await expect(page.get_by_text("Your place in the queue: 1")).to_be_visible()
    overdue = page.get_by_role("alert").filter(has_text="maximum wait")
    await expect(overdue).to_have_count(0)
    await expect(overdue).to_be_visible(timeout=90_000)
    await watched.screenshots("panel-widget-overdue")
    await fits(page)
    await page.get_by_role("button", name="Keep waiting").click()
    await expect(overdue).to_have_count(0)
    await expect(page.get_by_role("button", name="Keep waiting")).to_have_count(0)
    await expect(page.get_by_text("Your place in the queue: 1")).to_be_visible()


async def test_the_gp_turns_a_question_into_a_booking_invitation_the_patient_reads(
    watched: Watched, second: Watched, carechat: str, people: People, panel: Panel
) -> None:
    patient, gp = watched.page, second.page
    await gp_in_console(gp, carechat, panel)
    await patient_at_intake(patient, carechat, people, panel.panel_id)
    await fill_intake(patient, "Something else", "A mole on my back has changed colour")
    await expect(patient.get_by_text("Your place in the queue: 1")).to_be_visible()

    await gp.get_by_role("button", name="Go online").click()
    await gp.get_by_role("button", name="Claim the oldest").click()
    await expect(gp.locator("article.intake")).to_contain_text("A mole on my back")
    await gp.get_by_text("Convert").click()
    await gp.get_by_label("Practice or doctor").fill("Dr Lena Maes, Gent")
    await gp.get_by_label("Booking link (https://)").fill("https://booking.example/lena")
    await gp.get_by_role("button", name="Send the invitation").click()
    await expect(gp.locator("section.question .badge")).to_have_text("closed")

    # The patient's screen moves on by itself: the invitation, and where to book.
    await expect(patient.get_by_text("The GP invites you to book a consultation.")).to_be_visible(
        timeout=LIVE_TIMEOUT
    )
    invitation = patient.locator("article.w-card-booking")
    await expect(invitation).to_contain_text("Dr Lena Maes, Gent")
    await expect(invitation.get_by_role("link", name="Book online")).to_have_attribute(
        "href", "https://booking.example/lena"
    )
    await watched.screenshots("panel-widget-booking")
    await fits(patient)
