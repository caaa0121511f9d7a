"""The practice console without ``?practice=``: the account's own practices by name.

An admin of two practices opens /practice, sees both by name with its role, opens one
(its id then kept in the address) and goes back to the list; a colleague who works in
no practice is told so and who adds them, and once they have exactly one practice
the console opens it at once, with no list to go back to.
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


def practice_in(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("practice", [])


async def test_an_admin_of_two_practices_picks_one_by_name(
    watched: Watched, second: Watched, carechat: str, people: People
) -> None:
    admin_email = unique_email("practice-admin")
    admin = await people.person(admin_email, "practice_admin", "Dr. Anne Peeters")
    parc = str((await admin.api.create_practice("Cabinet du Parc"))["practice_id"])
    await admin.api.create_practice("Maison médicale des Tilleuls")

    console = watched.page
    title = console.get_by_role("heading", name="Your practices", exact=True)
    await open_signed_in(console, f"{carechat}/practice", admin_email, title)
    await expect(console.locator(".practice-choice-name")).to_have_text(
        ["Cabinet du Parc", "Maison médicale des Tilleuls"]
    )
    await expect(console.locator(".practice-choice-roles")).to_have_text(
        ["Administrator", "Administrator"]
    )
    await expect(console.get_by_label("Practice identifier")).to_have_count(0)
    await expect(console.locator("body")).not_to_contain_text(parc)
    inaccessible = await violations_at_sizes(console, "practice list")
    await watched.screenshots("practice-list")
    assert not await overflows_a_phone(console), "the list scrolls sideways on a phone"

    # The first console of a practice finds no staff group and creates it (the 404).
    watched.expect_error(HIDDEN_GROUP)
    await console.get_by_role("button", name="Cabinet du Parc").click()
    heading = console.get_by_role("heading", name="Cabinet du Parc", exact=True)
    await expect(heading).to_be_visible()
    assert practice_in(console.url) == [parc]
    inaccessible |= await violations_at_sizes(console, "practice opened from the list")
    await watched.screenshots("practice-opened-from-list")
    await console.get_by_role("button", name="All my practices").click()
    await expect(title).to_be_visible()
    assert practice_in(console.url) == []
    await expect(console.locator(".practice-choice-name")).to_have_count(2)

    # A colleague in no practice is told so, and who adds them.
    colleague_email = unique_email("assistant")
    colleague = await people.person(colleague_email, "practice_admin", "Claire Dubois")
    other = second.page
    none = other.get_by_role("heading", name="No practice yet", exact=True)
    await open_signed_in(other, f"{carechat}/practice", colleague_email, none)
    await expect(other.locator(".card")).to_contain_text(
        "Ask the administrator of your practice to add you."
    )
    inaccessible |= await violations_at_sizes(other, "practice none")
    await second.screenshots("practice-none")

    # With exactly one practice the console opens it at once: no list, no way back.
    noord = str((await colleague.api.create_practice("Praktijk Noord"))["practice_id"])
    second.expect_error(HIDDEN_GROUP)
    await other.get_by_role("button", name="Check again").click()
    await expect(other.get_by_role("heading", name="Praktijk Noord", exact=True)).to_be_visible()
    assert practice_in(other.url) == [noord]
    await expect(other.get_by_role("button", name="All my practices")).to_have_count(0)
    assert inaccessible == {}, inaccessible
