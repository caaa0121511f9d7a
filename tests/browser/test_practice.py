"""The practice console (/practice) and the patient's announcements in the widget.

A practice admin (account made through the SDK) signs in to the console, creates its
keys there (the staff group is created in the page), imports a roster CSV with bad
rows and sees them reported by line, and sends a campaign to the patients chosen by a
label opened in the page. The patient who accepted the roster's invitation reads it
in the widget's announcements, which sends a read receipt; a later campaign is
cancelled from the console before it is sent, and a large one is paused, resumed and
cancelled while it is sending.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from uuid import uuid4

from playwright.async_api import expect
from pymongo import AsyncMongoClient

from e2e_crypto.keys import DeviceKeys
from e2e_crypto.wire import from_base64url
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import People, link_in_mail, unique_email
from tests.browser.conftest import Watched
from tests.browser.signin import sign_in_and_create_keys
from tests.browser.widget_menu import open_widget_menu, widget_menu
from tests.mailings import seed_campaign, synthetic_patients
from tests.services import Services

KEY_DERIVATION_MS: Final = 30_000  # Argon2id in the page on a busy machine
LIVE_MS: Final = 20_000
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
BIG: Final = 20_000  # recipients: seconds of sending at the default rate
MAILING: Final = "La vaccination contre la grippe est ouverte aux patients de 65 ans et plus."


async def test_a_practice_imports_its_roster_and_its_campaign_reaches_the_widget(
    watched: Watched, second: Watched, carechat: str, people: People, outbox: Path, tmp_path: Path
) -> None:
    console = watched.page
    admin_email = unique_email("practice-admin")
    admin = await people.person(admin_email, "practice_admin", "Cabinet du Parc")
    practice_id = str((await admin.api.create_practice("Cabinet du Parc"))["practice_id"])

    # The practice's first console finds no staff group (the one 404 Chrome logs) and
    # creates it, at epoch 1, with this browser as its member.
    watched.expect_error(r"404 .*/api/v1/groups/staff-[^/]+/epochs/latest")
    await install_axe(console.context)
    await console.goto(f"{carechat}/practice?practice={practice_id}")
    await expect(console.get_by_label("E-mail address")).to_be_visible()
    inaccessible = await violations_at_sizes(console, "practice sign-in")
    await sign_in_and_create_keys(console, admin_email)
    await expect(console.get_by_role("heading", name="Cabinet du Parc", exact=True)).to_be_visible(
        timeout=KEY_DERIVATION_MS
    )
    inaccessible |= await violations_at_sizes(console, "practice console")

    # An Excel export (semicolons, Windows-1252) with three bad rows.
    senior, younger = unique_email("senior"), unique_email("younger")
    roster = tmp_path / "patients.csv"
    roster.write_bytes(
        (
            "email;language;age_band;condition\r\n"
            f"{senior};fr;65+;diabète\r\n"
            "not-an-address;fr;65+;\r\n"
            f"{younger};nl;40-64;asthme\r\n"
            f"{senior};fr;65+;again\r\n"
            "dan@example.org;de;65+;\r\n"
        ).encode("cp1252")
    )
    await console.get_by_label("CSV file").set_input_files(roster)
    await console.get_by_role("button", name="Import").click()
    report = console.locator("#pr-report")
    await expect(report).to_contain_text("2 rows imported.")
    await expect(report.locator(".rejected li")).to_have_text(
        [
            "Line 3: the e-mail address is malformed",
            "Line 5: the same e-mail address as line 2",
            "Line 6: the language is not one of en, fr, nl",
        ]
    )
    # The labels were opened in the page; the server only ever had them sealed.
    await expect(console.locator("table.roster")).to_contain_text("condition: diabète")

    # The 65+ patient accepts the invitation the import sent, and gets keys in the widget.
    code = (await link_in_mail(outbox, senior, "/invite#")).split("#", 1)[1]
    patient = await people.person(senior, name="Jeanne Lambert")
    await patient.api.accept_invitation(code)
    # Mailings are opt-in: she consents to the practice's (the widget's own consents
    # page is tests/browser/test_rights.py's).
    await patient.consent("prevention_mailings", practice_id)
    widget = second.page
    await install_axe(widget.context)
    await widget.goto(f"{carechat}/widget?practice={practice_id}")
    await widget.get_by_role("button", name="Sign in").click()
    await sign_in_and_create_keys(widget, senior)
    await expect(widget_menu(widget)).to_be_visible(timeout=KEY_DERIVATION_MS)

    # The console chooses the audience by label: only the linked 65+ patient.
    await console.get_by_role("button", name="Refresh the roster").click()
    await expect(console.locator("table.roster")).to_contain_text("linked")
    await console.get_by_role("checkbox", name="65+").check()
    await expect(console.locator(".preview")).to_have_text("1 linked patient matches.")
    await console.get_by_role("checkbox", name="40-64").check()
    await expect(console.locator(".preview")).to_have_text("1 linked patient matches.")
    await console.get_by_role("checkbox", name="40-64").uncheck()
    await console.get_by_label("Message").fill(MAILING)
    await console.get_by_role("button", name="Schedule the campaign").click()
    scheduled = "Campaign scheduled for 1 patient (if they agreed to your messages)."
    await expect(console.get_by_text(scheduled)).to_be_visible(timeout=LIVE_MS)
    sent = console.locator(".campaign").first
    await expect(sent).to_have_attribute("data-state", "done", timeout=LIVE_MS)
    await expect(sent.locator('[data-count="delivered"] dd')).to_have_text("1")
    # The console shows which campaign it was: the start of its text, from a note it
    # sealed to the staff group (the server holds it sealed).
    await expect(sent.locator(".campaign-preview")).to_have_text(MAILING)
    [stored] = (await admin.api.request("GET", f"/api/v1/practices/{practice_id}/campaigns"))[
        "campaigns"
    ]
    assert b"grippe" not in from_base64url(stored["note"], max_bytes=1024)

    # The patient reads it in the widget: opened in the page, then a read receipt.
    await open_widget_menu(widget, "Announcements")
    await expect(widget.get_by_role("heading", name="Practice announcements")).to_be_visible()
    item = widget.locator(".w-announcement").first
    await expect(item).to_have_class("w-announcement is-unread")
    await item.get_by_role("button").click()
    await expect(item).to_contain_text(MAILING)
    await expect(item).to_have_class("w-announcement")
    inaccessible |= await violations_at_sizes(widget, "widget announcements")
    assert inaccessible == {}, inaccessible
    campaigns = await admin.api.request("GET", f"/api/v1/practices/{practice_id}/campaigns")
    campaign_id = campaigns["campaigns"][0]["campaign_id"]
    progress = await admin.api.request("GET", f"/api/v1/campaigns/{campaign_id}")
    assert progress["progress"]["read"] == 1
    # The console shows the read receipt as a count.
    await console.get_by_role("button", name="Refresh the campaigns").click()
    await expect(sent.locator('[data-count="read"] dd')).to_have_text("1")
    # The notice e-mail's link opens her announcements (after sign-in, here kept).
    notice = await link_in_mail(outbox, senior, "/announcements")
    assert notice == f"{carechat}/announcements"
    await widget.goto(notice)
    await expect(widget.get_by_role("heading", name="Practice announcements")).to_be_visible(
        timeout=LIVE_MS
    )
    await expect(widget.locator(".w-announcement")).to_have_count(1)
    # Receiving them is a consent: the announcements lead to where it is withdrawn.
    opt_out = widget.locator(".w-opt-out")
    await opt_out.get_by_role("button", name="Privacy & consents").click()
    mailings = widget.locator(
        f'.w-consent[data-purpose="prevention_mailings"][data-scope="{practice_id}"]'
    )
    await mailings.get_by_role("button", name="Withdraw").click()
    await expect(mailings).to_have_attribute("data-state", "revoked")
    assert (await patient.api.consents())["current"] == []

    # A campaign scheduled for tomorrow is cancelled from the console before it goes.
    await console.get_by_role("checkbox", name="65+").check()
    await console.get_by_label("Message").fill("Rappel : vaccination demain.")
    await console.get_by_role("radio", name="Later").check()
    # datetime-local is the browser's local time, which is this machine's.
    tomorrow = (datetime.now(UTC).astimezone() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    await console.get_by_label("Date and time").fill(tomorrow)
    await console.get_by_role("button", name="Schedule the campaign").click()
    later = console.locator('.campaign[data-state="scheduled"]')
    await expect(later).to_have_count(1, timeout=LIVE_MS)
    cancel = later.get_by_role("button", name="Cancel the campaign")
    # The console reads the progress again every 2 s while the campaign waits: the
    # button stays the same element (one painted anew under the pointer lost a click).
    button = await cancel.element_handle()
    campaign_id = await later.get_attribute("data-campaign")
    async with console.expect_response(lambda r: r.url.endswith(f"/campaigns/{campaign_id}")):
        pass
    async with console.expect_response(lambda r: r.url.endswith(f"/{practice_id}/campaigns")):
        pass
    assert await button.evaluate("el => el.isConnected")
    await cancel.click()
    await expect(console.locator('.campaign[data-state="cancelled"]')).to_have_count(1)

    # The console in French and Dutch: the texts, the states, the report's reasons.
    await console.get_by_label("Language").select_option("fr")
    await expect(console.get_by_role("heading", name="Liste des patients")).to_be_visible()
    await expect(console.locator('.campaign[data-state="cancelled"]')).to_contain_text("Annulée")
    await console.get_by_label("Langue").select_option("nl")
    await expect(console.get_by_role("heading", name="Campagnes")).to_be_visible()
    await expect(console.get_by_text("Regel 3: het e-mailadres is ongeldig")).to_be_visible()
    await console.get_by_label("Taal").select_option("en")

    # A newer export (UTF-8, commas) keeps the labels current: the row already on the
    # roster is updated, not invited again.
    newer = tmp_path / "patients-newer.csv"
    newer.write_text(f"email,language,age_band,vaccinated\n{younger},nl,40-64,grippe 2026\n")
    await console.get_by_label("CSV file").set_input_files(newer)
    await console.get_by_role("button", name="Import").click()
    await expect(report.locator(".report-updated")).to_have_text(
        "1 row was already on the roster: its language and labels were updated."
    )
    await expect(report).to_contain_text("0 rows imported.")
    await expect(console.locator("table.roster tr", has_text=younger)).to_contain_text(
        "vaccinated: grippe 2026"
    )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await console.screenshot(path=str(SCREENSHOTS / "practice-desktop.png"), full_page=True)
    await console.set_viewport_size({"width": 375, "height": 812})
    width = await console.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the console scrolls sideways on a phone"
    await console.screenshot(path=str(SCREENSHOTS / "practice-phone.png"), full_page=True)


async def test_a_sending_campaign_is_paused_resumed_and_cancelled_from_the_console(
    watched: Watched, carechat: str, people: People, services: Services, carechat_db_name: str
) -> None:
    console = watched.page
    admin_email = unique_email("practice-admin")
    admin = await people.person(admin_email, "practice_admin", "Praktijk Noord")
    practice_id = str((await admin.api.create_practice("Praktijk Noord"))["practice_id"])
    # A large campaign, as the stores hold it once a practice's client submitted it
    # (registering thousands of patients over HTTP would take the test's whole budget):
    # at the default rate it stays "sending" for seconds, long enough to pause it.
    campaign_id = f"big-{uuid4().hex[:16]}"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri, tz_aware=True)
    try:
        await seed_campaign(
            mongo[carechat_db_name],
            practice_id=practice_id,
            sender=DeviceKeys.generate(admin.account_id, f"seed-{uuid4().hex[:8]}"),
            campaign_id=campaign_id,
            patients=synthetic_patients(BIG, prefix=f"s{uuid4().hex[:6]}-"),
            now=datetime.now(UTC),
        )
    finally:
        await mongo.close()

    watched.expect_error(r"404 .*/api/v1/groups/staff-[^/]+/epochs/latest")
    await console.goto(f"{carechat}/practice?practice={practice_id}")
    await sign_in_and_create_keys(console, admin_email)
    await expect(console.get_by_role("heading", name="Praktijk Noord", exact=True)).to_be_visible(
        timeout=KEY_DERIVATION_MS
    )
    await admin.api.request("POST", f"/api/v1/campaigns/{campaign_id}/schedule", {})
    await console.get_by_role("button", name="Refresh the campaigns").click()
    shown = console.locator(f'.campaign[data-campaign="{campaign_id}"]')
    await expect(shown).to_have_attribute("data-state", "sending", timeout=LIVE_MS)
    await shown.get_by_role("button", name="Pause").click()
    await expect(shown).to_have_attribute("data-state", "paused", timeout=LIVE_MS)
    await expect(shown).to_contain_text("Paused: paused at the practice")
    delivered = await shown.locator('[data-count="delivered"] dd').text_content()
    assert 0 < int(delivered or "0") < BIG
    await shown.get_by_role("button", name="Resume").click()
    await expect(shown).to_have_attribute("data-state", "sending", timeout=LIVE_MS)
    await shown.get_by_role("button", name="Cancel the campaign").click()
    await expect(shown).to_have_attribute("data-state", "cancelled", timeout=LIVE_MS)
    state = await admin.api.request("GET", f"/api/v1/campaigns/{campaign_id}")
    assert state["state"] == "cancelled"
    assert state["progress"]["delivered"] < BIG
