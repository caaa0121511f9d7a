"""Rights in the pages: the widget's "Privacy & consents" and "Blocked accounts", and
the practitioner inbox's "Block this account" with its list in the settings.

Chromium against a real ``carechat serve``; the practice's side is the Python SDK
(tests/browser/care_team.py). What the page records must be what the server enforces:
a blocked practitioner's send is refused, and each consent the page grants or
withdraws is the server's state after a reload and for the SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from e2e_crypto.client import CareChatClient, Provider
from e2e_crypto.client.errors import CareChatError
from moderation.consents import TEXT_VERSIONS, Purpose
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import (
    PRACTICE_NAME,
    PRACTITIONER_NAME,
    CareTeam,
    People,
    unique_email,
)
from tests.browser.conftest import Watched
from tests.browser.test_inbox import Crowd, doctor_in_browser, open_thread_with
from tests.browser.test_widget import (
    RECEIVE_TIMEOUT,
    conversation_with_practice,
    create_keys,
    open_widget,
    sign_in,
)
from tests.browser.widget_menu import open_widget_menu

VERSION = TEXT_VERSIONS[Purpose.PREVENTION_MAILINGS]


async def _sends(practitioner: CareChatClient, thread_id: str, text: str) -> str | None:
    """None if the server took the message, else the refusal's code."""
    try:
        await practitioner.send(thread_id, text)
    except CareChatError as refused:
        return refused.code
    return None


async def test_blocking_the_practitioner_from_a_thread_stops_their_messages_until_unblocked(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    await install_axe(page.context)
    conversation = await conversation_with_practice(page, carechat, team, people)
    thread_id = conversation.thread_id
    assert await _sends(team.practitioner, thread_id, "Before the block.") is None
    await expect(page.locator("li.w-msg.theirs", has_text="Before the block.")).to_be_visible(
        timeout=RECEIVE_TIMEOUT * 1000
    )

    # "Block…" asks first, naming who would be blocked; cancelling blocks no one.
    await page.get_by_role("button", name="Block…").click()
    dialog = page.get_by_role("dialog", name="Block someone in this conversation")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    inaccessible = await violations_at_sizes(page, "widget block dialog")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    assert await conversation.patient.api.request("GET", "/api/v1/blocks") == {"blocks": []}

    await page.get_by_role("button", name="Block…").click()
    await dialog.get_by_role("button", name=f"Block {PRACTITIONER_NAME}").click()
    await expect(page.get_by_role("heading", name="Blocked accounts")).to_be_visible()
    await expect(
        page.locator("#view").get_by_role("status").filter(has_text="is blocked")
    ).to_have_text(f"{PRACTITIONER_NAME} is blocked.")
    await expect(page.locator(".w-block")).to_have_count(1)
    await expect(page.locator(".w-block")).to_contain_text(PRACTITIONER_NAME)
    inaccessible |= await violations_at_sizes(page, "widget blocked accounts")
    await watched.screenshots("widget-blocks")

    # The server keeps them apart: the practitioner can no longer send.
    assert await _sends(team.practitioner, thread_id, "After the block.") == "account_blocked"

    # After a reload the block is still there, and the patient lifts it.
    await page.reload()
    await expect(page.get_by_role("heading", name=PRACTITIONER_NAME)).to_be_visible(
        timeout=RECEIVE_TIMEOUT * 1000
    )  # the widget reopens the live conversation
    await open_widget_menu(page, "Blocked accounts")
    await page.get_by_role("button", name=f"Unblock {PRACTITIONER_NAME}").click()
    await expect(
        page.locator("#view").get_by_role("status").filter(has_text="no longer")
    ).to_have_text(f"{PRACTITIONER_NAME} is no longer blocked.")
    await expect(page.get_by_text("You have not blocked anyone.")).to_be_visible()
    assert await _sends(team.practitioner, thread_id, "After the unblock.") is None
    assert inaccessible == {}


def _consent(page: Page, purpose: str, scope: str = "") -> Locator:
    return page.locator(f'section.w-consent[data-purpose="{purpose}"][data-scope="{scope}"]')


async def _current(patient: CareChatClient) -> set[tuple[str, str]]:
    state = await patient.api.consents()
    return {(c["purpose"], c["scope"]) for c in state["current"]}


async def test_consents_are_granted_and_withdrawn_in_the_widget_and_kept_by_the_server(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    await install_axe(page.context)
    email = unique_email("patient")
    patient = await people.person(email, name="Marie Dubois")
    await team.link(patient)
    await open_widget(page, carechat, team.practice_id)
    await sign_in(page, email)
    await create_keys(page)
    await open_widget_menu(page, "Privacy & consents")
    await expect(page.get_by_role("heading", name="Privacy & consents")).to_be_visible()

    mailings = _consent(page, "prevention_mailings", team.practice_id)
    report = _consent(page, "report_to_gp")
    # Every purpose, with the practice's mailings named after the practice; none given.
    await expect(page.locator("section.w-consent")).to_have_count(4)
    await expect(mailings.get_by_role("heading")).to_have_text(
        f"Prevention messages from {PRACTICE_NAME}"
    )
    for section in (mailings, report, _consent(page, "care_messaging")):
        await expect(section.locator(".w-consent-state")).to_have_text("Not agreed.")
    inaccessible = await violations_at_sizes(page, "widget consents")

    await mailings.get_by_role("button", name=f"Agree (text version {VERSION})").click()
    await expect(mailings).to_have_attribute("data-state", "granted")
    await expect(mailings.locator(".w-consent-state")).to_contain_text(f"(text version {VERSION})")
    await report.get_by_role("button", name="Agree").click()
    await expect(report).to_have_attribute("data-state", "granted")
    assert await _current(patient) == {
        ("prevention_mailings", team.practice_id),
        ("report_to_gp", ""),
    }

    # Withdrawing the report to the GP says what it takes away, and can be kept.
    await report.get_by_role("button", name="Withdraw").click()
    dialog = page.get_by_role("dialog", name="Withdraw this consent?")
    await expect(dialog).to_contain_text("no longer be able to send a report")
    inaccessible |= await violations_at_sizes(page, "widget consent confirmation")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(report).to_have_attribute("data-state", "granted")
    await report.get_by_role("button", name="Withdraw").click()
    await dialog.get_by_role("button", name="Withdraw").click()
    await expect(report).to_have_attribute("data-state", "revoked")
    await expect(report.locator(".w-consent-state")).to_contain_text("Withdrawn on")
    await watched.screenshots("widget-consents")

    # What the page shows after a reload is the server's record.
    await page.reload()
    await expect(page.get_by_role("button", name="Start a conversation")).to_be_visible(
        timeout=RECEIVE_TIMEOUT * 1000
    )  # the widget is home, on the practice's page
    await open_widget_menu(page, "Privacy & consents")
    await expect(mailings).to_have_attribute("data-state", "granted")
    await expect(report).to_have_attribute("data-state", "revoked")
    assert await _current(patient) == {("prevention_mailings", team.practice_id)}

    # Mailings are withdrawn as easily as they were given: one click, no dialog.
    await mailings.get_by_role("button", name="Withdraw").click()
    await expect(mailings).to_have_attribute("data-state", "revoked")
    assert await _current(patient) == set()

    # In French and Dutch too.
    await page.get_by_label("Language").select_option("fr")
    french = page.get_by_role("heading", name="Confidentialité et consentements")
    await expect(french).to_be_visible()
    await expect(mailings.locator(".w-consent-state")).to_contain_text("Retiré le")
    await page.get_by_label("Langue").select_option("nl")
    await expect(page.get_by_role("heading", name="Privacy en toestemmingen")).to_be_visible()
    await page.get_by_label("Taal", exact=True).select_option("en")
    assert inaccessible == {}


@pytest.fixture
async def crowd(carechat: str, carechat_dir: Path) -> AsyncIterator[Crowd]:
    people = Crowd(carechat, carechat_dir)
    yield people
    await people.close()


async def test_a_practitioner_blocks_a_patient_from_the_inbox_and_unblocks_in_settings(
    watched: Watched, carechat: str, crowd: Crowd
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

    block = page.locator(".thread-head").get_by_role("button", name="Block this account")
    await block.click()  # the first press only asks
    assert await doctor.api.request("GET", "/api/v1/blocks") == {"blocks": []}
    await page.locator(".thread-head").get_by_role("button", name="Block? Press again").click()
    await expect(page.locator(".thread-head")).to_contain_text("Ann is blocked.")
    assert await _sends(ann, thread_id, "Are you there?") == "account_blocked"

    await page.get_by_role("button", name="Taking new requests").click()
    blocked = page.locator('section[aria-labelledby="blocks-title"]')
    await expect(blocked.locator("li")).to_have_count(1)
    await expect(blocked.locator("li")).to_contain_text("Ann")
    inaccessible = await violations_at_sizes(page, "inbox settings with a block")
    await blocked.get_by_role("button", name="Unblock").click()
    await expect(blocked.locator(".saved")).to_have_text("Unblocked.")
    await expect(blocked.locator("li")).to_have_text("You have not blocked anyone.")
    assert await _sends(ann, thread_id, "Are you there?") is None
    assert inaccessible == {}
