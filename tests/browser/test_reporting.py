"""Reporting abuse from the browser, and a suspension seen in it. Chromium against a
real ``carechat serve``.

A practitioner's insult reaches a patient in the widget; the patient reports it with
the page's "Report" (the client library reveals that one message's text and franking
key), is offered to block the sender, and a second look shows it "Reported". A
moderator's console shows the report as "Verified sender" with the text. A suspended
practitioner's inbox shows the reason instead of the inbox (the socket's 4003 close),
and signing in again shows the moderators' note and where to appeal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final
from uuid import uuid4

import pytest
from playwright.async_api import Page, expect

from e2e_crypto.client import Provider
from e2e_crypto.client.mailings import send_campaign
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import PASSWORD as TEAM_PASSWORD
from tests.browser.care_team import PRACTITIONER_NAME, CareTeam, People, unique_email
from tests.browser.conftest import Watched
from tests.browser.moderators import MODERATOR_PASSWORD, SUSPENSION_NOTE, as_moderator, suspend
from tests.browser.test_inbox import PASSWORD, Crowd, doctor_in_browser, open_thread_with
from tests.browser.test_widget import (
    RECEIVE_TIMEOUT,
    conversation_with_practice,
    open_widget,
    sign_in,
)
from tests.browser.widget_menu import open_widget_menu
from tests.faults.harness import until

INSULT: Final = "You are useless and I know where you live"
MAILING: Final = "Buy our vitamins at 50% off, today only"


# Switches the widget's language as its (inert, behind the modal) selector would.
RELANGUAGE = """(lang) => {
  const select = document.getElementById("w-language");
  select.value = lang;
  select.dispatchEvent(new Event("change"));
}"""


@pytest.fixture
async def crowd(carechat: str, carechat_dir: Path) -> AsyncIterator[Crowd]:
    people = Crowd(carechat, carechat_dir)
    yield people
    await people.close()


async def test_a_patient_reports_a_message_in_the_widget_and_the_console_shows_it_verified(
    watched: Watched, carechat: str, team: CareTeam, people: People, moderator: str
) -> None:
    page = watched.page
    await install_axe(page.context)
    conversation = await conversation_with_practice(page, carechat, team, people)
    await team.practitioner.send(conversation.thread_id, INSULT)
    insult = page.locator("li.w-msg.theirs", has_text=INSULT)
    await expect(insult).to_be_visible(timeout=RECEIVE_TIMEOUT * 1000)
    # The patient's own messages have no "Report".
    await expect(page.locator("li.w-msg.mine .w-report")).to_have_count(0)

    await insult.get_by_role("button", name="Report").click()
    dialog = page.get_by_role("dialog", name="Report this message to CareChat")
    await expect(dialog).to_contain_text("reveals the text of this one message")
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    inaccessible = await violations_at_sizes(page, "widget report dialog")
    await dialog.get_by_label("What is wrong with it?").select_option("harassment")
    await dialog.get_by_role("button", name="Report", exact=True).click()

    thanks = page.get_by_role("dialog", name="Thank you, the moderators will look at it")
    await expect(thanks).to_be_visible()
    await expect(thanks).not_to_contain_text("null")
    inaccessible |= await violations_at_sizes(page, "widget reported")
    await watched.screenshots("widget-reported")
    # Blocking is offered with the conversation's own block dialog.
    await thanks.get_by_role("button", name="Block this account…").click()
    block = page.get_by_role("dialog", name="Block someone in this conversation")
    await expect(block.get_by_role("button", name=f"Block {PRACTITIONER_NAME}")).to_be_visible()
    await block.get_by_role("button", name="Cancel").click()
    await expect(insult.locator(".w-reported")).to_have_text("Reported")
    await expect(insult.get_by_role("button", name="Report")).to_have_count(0)

    # After a reload the page no longer remembers; a second report is the server's
    # "already filed" (its 409 logged by the browser), said kindly.
    watched.expect_error(r"status of 409 .* at .*/api/v1/reports$")
    await page.reload()
    await expect(insult).to_be_visible(timeout=RECEIVE_TIMEOUT * 1000)
    await insult.get_by_role("button", name="Report").click()
    await dialog.get_by_role("button", name="Report", exact=True).click()
    again = page.get_by_role("dialog", name="Reported")
    await expect(again).to_contain_text("You have already reported this; the moderators have it.")
    await again.get_by_role("button", name="Close").click()
    await expect(insult.locator(".w-reported")).to_have_text("Reported")

    # The moderators' console: the report, its sender verified, the revealed text.
    await in_console(page, carechat, moderator, "Harassment", INSULT, str(conversation.thread_id))
    assert inaccessible == {}, inaccessible


async def in_console(
    page: Page, carechat: str, moderator: str, category: str, text: str, where: str
) -> None:
    """The moderator's console (another browser: the patient's session stays in
    ``page``) lists the report of ``text`` as from a verified sender, at ``where``."""
    browser = page.context.browser
    assert browser is not None
    desk = await browser.new_context()
    try:
        console = await desk.new_page()
        await console.goto(f"{carechat}/moderation")
        await console.get_by_label("E-mail address").fill(moderator)
        await console.get_by_label("Password", exact=True).fill(MODERATOR_PASSWORD)
        await console.get_by_role("button", name="Sign in").click()
        report = console.get_by_role("article", name=f"Report: {category}").filter(has_text=text)
        await expect(report.get_by_text("Verified sender")).to_be_visible()
        await expect(report.get_by_text(where)).to_be_visible()
    finally:
        await desk.close()


async def test_a_patient_reports_a_practice_mailing_and_the_console_shows_its_campaign(
    watched: Watched, carechat: str, team: CareTeam, people: People, moderator: str
) -> None:
    page = watched.page
    await install_axe(page.context)
    conversation = await conversation_with_practice(page, carechat, team, people)
    patient = conversation.patient
    await patient.consent("prevention_mailings", team.practice_id)
    # The practice sends a mailing to the widget's device (its admin, through the SDK).
    campaign_id = uuid4().hex
    devices = await team.admin.directory.devices(patient.account_id)
    await send_campaign(
        team.admin.api,
        team.admin.keystore.device,
        practice_id=team.practice_id,
        campaign_id=campaign_id,
        text=MAILING.encode(),
        devices={patient.account_id: list(devices)},
    )

    async def sent() -> bool:
        answer = await team.admin.api.request("GET", f"/api/v1/campaigns/{campaign_id}")
        return bool(answer["state"] == "done")

    await until(sent, RECEIVE_TIMEOUT, "the campaign sent")

    await open_widget_menu(page, "Announcements")
    item = page.locator(".w-announcement").first
    # Opened from the keyboard: the view is drawn again (opened, then read), and the
    # keyboard stays on the announcement.
    head = item.get_by_role("button").first
    await head.focus()
    await page.keyboard.press("Enter")
    await expect(item).to_contain_text(MAILING)
    await expect(item.locator(".w-badge")).to_have_count(0)
    await expect(head).to_be_focused()
    await item.get_by_role("button", name="Report").click()
    dialog = page.get_by_role("dialog", name="Report this announcement to CareChat")
    await expect(dialog).to_contain_text("reveals the text of this one announcement")
    await dialog.get_by_label("What is wrong with it?").select_option("spam")
    # The view re-renders under the open dialog (here a language switch there and back;
    # opening the announcement's read receipt does the same): the dialog stays, as filled.
    for lang in ("fr", "en"):
        await page.evaluate(RELANGUAGE, lang)
    await expect(dialog.get_by_label("What is wrong with it?")).to_have_value("spam")
    await dialog.get_by_role("button", name="Report", exact=True).click()
    thanks = page.get_by_role("dialog", name="Thank you, the moderators will look at it")
    await expect(thanks).to_be_visible()
    inaccessible = await violations_at_sizes(page, "widget announcement reported")
    await thanks.get_by_role("button", name="Close").click()
    await expect(item.locator(".w-reported")).to_have_text("Reported")

    await in_console(page, carechat, moderator, "Spam", MAILING, campaign_id)
    assert inaccessible == {}, inaccessible


async def test_a_practitioner_reports_a_patients_message_in_the_inbox(
    watched: Watched, carechat: str, crowd: Crowd, moderator: str
) -> None:
    page = watched.page
    await install_axe(page.context)
    doctor = await doctor_in_browser(watched, carechat, crowd)
    ann = await crowd.patient("ann")
    await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    [link] = await doctor.api.care_links()
    await doctor.api.answer_care_link(link["care_link_id"], accept=True)
    await page.reload()
    thread_id = await open_thread_with(page, ann, doctor)

    message = page.locator(".message.theirs").first
    await message.get_by_role("button", name="Report", exact=True).click()
    await expect(message).to_contain_text("reveals the text of this one message")
    inaccessible = await violations_at_sizes(page, "inbox report form")
    await message.get_by_label("What is wrong with it?").select_option("threats")
    # Ann writes again while the form is open: her message is drawn, the form stays.
    await ann.send(thread_id, "Vous m'entendez ?")
    await expect(page.locator(".message.theirs .text").last).to_have_text("Vous m'entendez ?")
    await expect(message.get_by_label("What is wrong with it?")).to_have_value("threats")
    await message.get_by_role("button", name="Report to CareChat").click()
    await expect(message.locator(".report-done")).to_contain_text("Reported")
    # Blocking the sender is offered next to it.
    await expect(message.get_by_role("button", name="Block this account")).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "inbox reported")

    queue = await as_moderator(carechat, moderator, "GET", "/api/v1/admin/reports")
    [filed] = [r for r in queue["reports"] if r["thread"] == thread_id]
    assert (filed["category"], filed["verification"]) == ("threats", "verified")
    assert filed["sender"]["account"] == ann.account_id
    assert inaccessible == {}, inaccessible


async def test_a_suspended_account_signing_in_to_the_widget_or_a_console_is_told_why(
    watched: Watched, carechat: str, team: CareTeam, people: People, moderator: str
) -> None:
    page = watched.page
    await install_axe(page.context)
    email = unique_email("patient")
    patient = await people.person(email, name="Marie Dubois")
    await suspend(carechat, moderator, patient.account_id)
    # The refused sign-ins (403) are logged by the browser.
    watched.expect_error(r"status of 403 .* at .*/api/v1/sessions$")

    await open_widget(page, carechat, team.practice_id)
    await sign_in(page, email)
    notice = page.get_by_role("alert").filter(has_text="This account is suspended")
    await expect(notice).to_contain_text("Reason: harassment")
    await expect(notice).to_contain_text(f"Message from the moderators: {SUSPENSION_NOTE}")
    await expect(notice.get_by_role("link", name="appeals@carechat.invalid")).to_be_visible()
    inaccessible = await violations_at_sizes(page, "widget suspended")
    await watched.screenshots("widget-suspended")
    # In French too.
    await page.get_by_label("Language").select_option("fr")
    await expect(
        page.get_by_role("alert").filter(has_text="Ce compte est suspendu")
    ).to_contain_text("Motif : harcèlement")
    await page.get_by_label("Langue").select_option("en")

    # The GP-panel console (the practice console shares its sign-in) says the same.
    await page.goto(f"{carechat}/panel")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(TEAM_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(notice).to_contain_text("Reason: harassment")
    await expect(notice.get_by_role("link", name="appeals@carechat.invalid")).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "panel suspended")
    assert inaccessible == {}, inaccessible


async def test_a_suspended_practitioners_inbox_shows_why_and_how_to_appeal(
    watched: Watched, carechat: str, crowd: Crowd, moderator: str
) -> None:
    page = watched.page
    await install_axe(page.context)
    doctor = await doctor_in_browser(watched, carechat, crowd)
    await expect(page.locator(".connection")).to_have_attribute("data-state", "online")

    # The page ends its (already ended) session: the server answers that DELETE 401.
    watched.expect_error(r"status of 401 .* at .*/api/v1/sessions/current$")
    await suspend(carechat, moderator, doctor.account_id)
    # The live socket closes with 4003: the reason, not a reconnecting inbox.
    notice = page.get_by_role("alert").filter(has_text="This account is suspended")
    await expect(notice).to_be_visible(timeout=RECEIVE_TIMEOUT * 1000)
    await expect(notice).to_contain_text("Reason: harassment")
    await expect(notice).to_contain_text("Sign in again to see how to appeal.")
    await expect(page.locator(".topbar")).to_have_count(0)
    inaccessible = await violations_at_sizes(page, "inbox suspended (socket)")

    # Signing in again: the server's refusal carries the note and where to appeal.
    watched.expect_error(r"status of 403 .* at .*/api/v1/sessions$")
    await notice.get_by_role("button", name="Sign in again").click()
    await page.get_by_label("E-mail address").fill(crowd.email("doctor"))
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(notice).to_contain_text(f"Message from the moderators: {SUSPENSION_NOTE}")
    await expect(notice.get_by_role("link", name="appeals@carechat.invalid")).to_have_attribute(
        "href", "mailto:appeals@carechat.invalid"
    )
    await expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    inaccessible |= await violations_at_sizes(page, "inbox suspended (sign-in)")
    await watched.screenshots("inbox-suspended")
    assert inaccessible == {}, inaccessible
