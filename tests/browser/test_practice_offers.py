"""The practice console shows the roles offered to the signed-in account.

A practice's admin offers a staff role by e-mail in two of its practices; the
colleague opens /practice, sees both offers by practice name, declines one (it is
gone), accepts the other and is told what happens next. Once the admin has published
the signed list naming them, "Check again" opens that practice.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import expect

from tests.browser.axe import overflows_a_phone, violations_at_sizes
from tests.browser.care_team import People, unique_email
from tests.browser.conftest import Watched
from tests.browser.signin import open_signed_in

HIDDEN_GROUP: Final = r"404 .*/api/v1/groups/staff-[^/]+/epochs/latest"
PARC: Final = "Cabinet du Parc"
TILLEULS: Final = "Maison médicale des Tilleuls"


async def test_a_colleague_declines_one_offer_and_accepts_the_other(
    watched: Watched, carechat: str, people: People
) -> None:
    admin = await people.person(
        unique_email("practice-admin"), "practice_admin", "Dr. Anne Peeters"
    )
    await admin.create_keys()
    parc = str((await admin.api.create_practice(PARC))["practice_id"])
    tilleuls = str((await admin.api.create_practice(TILLEULS))["practice_id"])
    colleague_email = unique_email("assistant")
    colleague = await people.person(colleague_email, "practice_admin", "Claire Dubois")
    for practice_id in (parc, tilleuls):
        await admin.api.propose_member_by_email(practice_id, colleague_email, "staff")

    page = watched.page
    offers = page.get_by_role("heading", name="Roles offered to you", exact=True)
    await open_signed_in(page, f"{carechat}/practice", colleague_email, offers)
    await expect(page.get_by_role("heading", name="No practice yet")).to_be_visible()
    await expect(page.locator(".offer-name")).to_have_text([PARC, TILLEULS])
    await expect(page.locator(".offer-role")).to_have_text(
        ["Role offered: Staff", "Role offered: Staff"]
    )
    for practice_id in (parc, tilleuls):
        await expect(page.locator("body")).not_to_contain_text(practice_id)
    inaccessible = await violations_at_sizes(page, "practice offers")
    await watched.screenshots("practice-offers")
    assert not await overflows_a_phone(page), "the offers scroll sideways on a phone"

    # Declined: the offer is gone, here and on the server.
    tilleuls_offer = page.locator(".offer", has_text=TILLEULS)
    await tilleuls_offer.get_by_role("button", name="Decline").click()
    await expect(page.locator(".offer-name")).to_have_text([PARC])
    assert [o["practice_id"] for o in await colleague.api.membership_invitations()] == [parc]

    # Accepted: said plainly who adds them, and that the practice then appears here.
    await page.locator(".offer", has_text=PARC).get_by_role("button", name="Accept").click()
    accepted = page.locator(".offer.accepted", has_text=PARC)
    await expect(accepted).to_contain_text("Accepted: Staff")
    await expect(accepted).to_contain_text(
        f"the administrator of {PARC} adds you to the practice's signed list"
    )
    await expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    inaccessible |= await violations_at_sizes(page, "practice offer accepted")
    await watched.screenshots("practice-offer-accepted")

    # Until the admin's list names them, checking again changes nothing.
    await page.get_by_role("button", name="Check again").click()
    await expect(accepted).to_be_visible()

    await admin.publish_membership(parc, {colleague.account_id: "staff"})
    # Listed but not yet in the staff group: the console finds no group (the 404).
    watched.expect_error(HIDDEN_GROUP)
    await page.get_by_role("button", name="Check again").click()
    await expect(page.get_by_role("heading", name=PARC, exact=True)).to_be_visible()
    assert parse_qs(urlsplit(page.url).query).get("practice") == [parc]
    await expect(page.locator(".offer")).to_have_count(0)
    assert inaccessible == {}, inaccessible


async def test_an_offer_shows_beside_the_accounts_own_practice(
    watched: Watched, carechat: str, people: People
) -> None:
    """With one practice of its own the console would open it at once; an offer to
    answer keeps the list on screen, and once listed both practices are in it."""
    admin = await people.person(
        unique_email("practice-admin"), "practice_admin", "Dr. Anne Peeters"
    )
    await admin.create_keys()
    parc = str((await admin.api.create_practice(PARC))["practice_id"])
    colleague_email = unique_email("colleague")
    colleague = await people.person(colleague_email, "practice_admin", "Claire Dubois")
    await colleague.api.create_practice(TILLEULS)
    await admin.api.propose_member_by_email(parc, colleague_email, "staff")

    page = watched.page
    title = page.get_by_role("heading", name="Your practices", exact=True)
    await open_signed_in(page, f"{carechat}/practice", colleague_email, title)
    await expect(page.locator(".practice-choice-name")).to_have_text([TILLEULS])
    await expect(page.locator(".offer-name")).to_have_text([PARC])
    await expect(page.get_by_role("button", name="Check again")).to_have_count(0)
    inaccessible = await violations_at_sizes(page, "practice list with an offer")
    await watched.screenshots("practice-list-offer")

    await page.get_by_role("button", name="Accept").click()
    await expect(page.locator(".offer.accepted")).to_contain_text("Accepted: Staff")
    await admin.publish_membership(parc, {colleague.account_id: "staff"})
    await page.get_by_role("button", name="Check again").click()
    await expect(page.locator(".practice-choice-name")).to_have_text([PARC, TILLEULS])
    await expect(page.locator(".offer")).to_have_count(0)
    assert inaccessible == {}, inaccessible
