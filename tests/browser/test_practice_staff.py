"""The practice console's membership and staff boxes: the admin offers a colleague a
role by e-mail and, once accepted, signs the practice's membership list in the page
(named, never by id); then adds the colleague's devices to the staff group (the
group's next epoch, signed in the admin's browser; the roster sealed again to it), and
the colleague's console then opens the roster's labels; removed again, the colleague's
console no longer opens the group; removed from the list, they are no member at all,
and the admin withdraws the offer. The staff box names a colleague's devices by the
day each was added, never by id."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from playwright.async_api import expect

from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import People, link_in_mail, unique_email
from tests.browser.conftest import Watched
from tests.browser.signin import sign_in_and_create_keys

KEY_DERIVATION_MS: Final = 30_000  # Argon2id in the page on a busy machine
LIVE_MS: Final = 20_000
MAILING: Final = "La vaccination contre la grippe est ouverte."
NOT_MEMBER: Final = "it is not in the staff group"
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
HIDDEN_GROUP: Final = r"404 .*/api/v1/groups/staff-[^/]+/epochs/latest"
NO_SUCH_COLLEAGUE: Final = r"404 .*/api/v1/practices/[^/]+/members"


async def test_the_admin_adds_a_colleague_to_the_staff_group_who_then_opens_the_labels(
    watched: Watched,
    second: Watched,
    carechat: str,
    people: People,
    outbox: Path,
    tmp_path: Path,
) -> None:
    admin_email, colleague_email = unique_email("practice-admin"), unique_email("assistant")
    admin = await people.person(admin_email, "practice_admin", "Cabinet des Tilleuls")
    practice_id = str((await admin.api.create_practice("Cabinet des Tilleuls"))["practice_id"])
    colleague = await people.person(colleague_email, "practice_admin", "Claire Dubois")

    # The admin's console creates the keys and the staff group (epoch 1, this browser).
    console = watched.page
    watched.expect_error(HIDDEN_GROUP)
    await install_axe(console.context)
    await console.goto(f"{carechat}/practice?practice={practice_id}")
    await sign_in_and_create_keys(console, admin_email)
    heading = console.get_by_role("heading", name="Cabinet des Tilleuls", exact=True)
    await expect(heading).to_be_visible(timeout=KEY_DERIVATION_MS)

    # The membership box: no list yet; an address nobody uses finds nobody.
    membership = console.locator('[data-box="membership"]')
    version = membership.locator(".membership-version")
    await expect(version).to_have_text(
        "No list published yet: nobody receives patients' messages to the practice."
    )
    watched.expect_error(NO_SUCH_COLLEAGUE)
    await membership.get_by_label("Colleague's e-mail address").fill(unique_email("nobody"))
    await membership.get_by_role("button", name="Offer the role").click()
    await expect(membership.get_by_role("alert")).to_have_text(
        "No colleague's account uses this address."
    )
    # The admin offers the colleague the staff role by e-mail; she is named.
    await membership.get_by_label("Colleague's e-mail address").fill(colleague_email)
    await membership.get_by_label("Role").select_option("staff")
    await membership.get_by_role("button", name="Offer the role").click()
    person = membership.locator(f'.membership-person[data-account="{colleague.account_id}"]')
    await expect(person).to_contain_text("Claire Dubois (staff)")
    await expect(person).to_contain_text("waiting for them to accept")
    # An offer can be taken back (below, once accepted); nothing to add to the list yet.
    await expect(person.get_by_role("button")).to_have_text(["Withdraw the offer"])
    await expect(membership).not_to_contain_text(colleague.account_id)
    inaccessible = await violations_at_sizes(console, "practice membership offered")
    assert inaccessible == {}, inaccessible
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await membership.screenshot(path=str(SCREENSHOTS / "practice-membership-offered.png"))
    # She accepts in her own account; the admin signs her into the list in the page.
    await colleague.api.accept_membership(practice_id)
    await membership.get_by_role("button", name="Refresh the list").click()
    await expect(person).to_contain_text("Accepted the role; not on the list yet.")
    await person.get_by_role("button", name="Add to the list").click()
    await expect(version).to_have_text("Signed list, version 1.")
    await expect(person).to_have_attribute("data-listed", "true")
    # The server holds the list the page signed: her, as staff, at epoch 1.
    signed = await admin.api.membership(practice_id)
    assert signed["epoch"] == 1
    assert (await admin.api.practice(practice_id))["staff"] == [colleague.account_id]
    inaccessible = await violations_at_sizes(console, "practice membership")
    assert inaccessible == {}, inaccessible
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await membership.screenshot(path=str(SCREENSHOTS / "practice-membership-desktop.png"))
    await console.set_viewport_size({"width": 375, "height": 812})
    width = await console.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the console scrolls sideways on a phone"
    await membership.screenshot(path=str(SCREENSHOTS / "practice-membership-phone.png"))
    await console.set_viewport_size({"width": 1280, "height": 800})
    roster = tmp_path / "patients.csv"
    patient_email = unique_email("marie")
    roster.write_text(f"email,language,condition\n{patient_email},fr,diabète\n")
    await console.get_by_label("CSV file").set_input_files(roster)
    await console.get_by_role("button", name="Import").click()
    await expect(console.locator("#pr-report")).to_contain_text("1 row imported.")
    await expect(console.locator("table.roster")).to_contain_text("condition: diabète")
    # A campaign sent at epoch 1: its note (the start of its text) is sealed to it.
    code = (await link_in_mail(outbox, patient_email, "/invite#")).split("#", 1)[1]
    patient = await people.person(patient_email, name="Marie Leclercq")
    await patient.create_keys()
    await patient.api.accept_invitation(code)
    await patient.consent("prevention_mailings", practice_id)
    await console.get_by_role("button", name="Refresh the roster").click()
    await expect(console.locator("table.roster")).to_contain_text("linked")
    await console.get_by_role("checkbox", name="diabète").check()
    await console.get_by_label("Message").fill(MAILING)
    await console.get_by_role("button", name="Schedule the campaign").click()
    sent = console.locator(".campaign").first
    await expect(sent).to_have_attribute("data-state", "done", timeout=LIVE_MS)
    await expect(sent.locator(".campaign-preview")).to_have_text(MAILING)

    # The colleague has no keys yet: listed, with nothing the admin could add.
    staff = console.locator('[data-box="staff"]')
    member = staff.locator(f'.staff-member[data-account="{colleague.account_id}"]')
    await staff.get_by_role("button", name="Refresh the staff").click()
    await expect(member).to_contain_text("No verified device yet", timeout=LIVE_MS)
    await expect(member).to_contain_text("Claire Dubois (staff)")
    await expect(staff).not_to_contain_text(colleague.account_id)
    await expect(member.get_by_role("button")).to_have_count(0)

    # The colleague signs in: a practice member, but not (yet) in the staff group.
    other = second.page
    second.expect_error(HIDDEN_GROUP)
    await other.goto(f"{carechat}/practice?practice={practice_id}")
    await sign_in_and_create_keys(other, colleague_email)
    await expect(other.get_by_text(NOT_MEMBER)).to_be_visible(timeout=KEY_DERIVATION_MS)

    # The admin sees the colleague's verified device and adds it.
    await staff.get_by_role("button", name="Refresh the staff").click()
    await expect(member).to_have_attribute("data-in-group", "false", timeout=LIVE_MS)
    await expect(member).to_contain_text("Verified devices (1), added ", timeout=LIVE_MS)
    # Her device by the day it was added (in the page's language), never by its id.
    listing = await admin.api.account_devices(colleague.account_id)
    [device] = listing["devices"]
    added = await console.evaluate(
        "at => new Intl.DateTimeFormat('en', {dateStyle: 'medium'}).format(new Date(at))",
        device["created_at"],
    )
    await expect(member.locator(".staff-devices")).to_have_text(
        f"Verified devices (1), added {added}."
    )
    await expect(staff).not_to_contain_text(str(device["device_id"]))
    inaccessible = await violations_at_sizes(console, "practice staff devices")
    assert inaccessible == {}, inaccessible
    await staff.screenshot(path=str(SCREENSHOTS / "practice-staff-devices.png"))
    await member.get_by_role("button", name="Add to the staff group").click()
    await expect(member).to_have_attribute("data-in-group", "true", timeout=LIVE_MS)
    await expect(member).to_contain_text("In the staff group.")
    # The admin's roster opens still: sealed again to the new epoch; the note sealed
    # to epoch 1 opens with the older key the console kept.
    await expect(console.locator("table.roster")).to_contain_text("condition: diabète")
    # (read afresh: the page opened again walks the chain and keeps both keys)
    await console.reload()
    await expect(heading).to_be_visible(timeout=KEY_DERIVATION_MS)
    await expect(sent.locator(".campaign-preview")).to_have_text(MAILING)

    # The colleague's console now opens the group, and the roster's labels.
    await other.get_by_role("button", name="Check again").click()
    await expect(
        other.get_by_role("heading", name="Cabinet des Tilleuls", exact=True)
    ).to_be_visible(timeout=LIVE_MS)
    await expect(other.locator("table.roster")).to_contain_text("condition: diabète")
    # An earlier campaign's note stays sealed to epoch 1, which the colleague never held.
    await expect(other.locator(".campaign")).to_have_count(1)
    await expect(other.locator(".campaign-preview")).to_have_count(0)
    # Only the group's admin sees the staff box.
    await expect(other.locator('[data-box="staff"]')).to_have_count(0)

    # Removed again (the next epoch), the colleague's console no longer opens it.
    await member.get_by_role("button", name="Remove from the staff group").click()
    await expect(member).to_have_attribute("data-in-group", "false", timeout=LIVE_MS)
    await other.reload()
    await expect(other.get_by_text(NOT_MEMBER)).to_be_visible(timeout=KEY_DERIVATION_MS)
    await expect(console.locator("table.roster")).to_contain_text("condition: diabète")

    # Removed from the membership list (its next version, signed here): no longer a
    # member, so no longer in the staff box; her consent stays, to be added again.
    await person.get_by_role("button", name="Remove from the list").click()
    await expect(version).to_have_text("Signed list, version 2.")
    await expect(person).to_have_attribute("data-listed", "false")
    await expect(person).to_contain_text("Accepted the role; not on the list yet.")
    await expect(member).to_have_count(0)
    assert (await admin.api.practice(practice_id))["staff"] == []

    # Not on the list any more, her offer can be taken back: she no longer sees it.
    await person.get_by_role("button", name="Withdraw the offer").click()
    await expect(person).to_have_count(0)
    await expect(membership).to_contain_text("Nobody offered a role yet.")
    assert await colleague.api.membership_invitations() == []
