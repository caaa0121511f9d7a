"""A panel's admin in the GP console (/panel): she creates a panel; it takes its first
GPs, found by e-mail address, each change signed in her browser as the panel's next
epoch; only verified practitioners with keys join; a removed GP can no longer read the
queue; she changes the panel's settings and a GP's own capacity. The GPs themselves
are SDK clients here (the console's GP side is test_panel.py's)."""

from __future__ import annotations

from typing import Final
from uuid import uuid4

import pytest
from playwright.async_api import ViewportSize, expect

from e2e_crypto.client import NotFoundError
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import People, unique_email
from tests.browser.conftest import Watched
from tests.browser.signin import sign_in_and_create_keys
from tests.services import Services

PHONE: Final[ViewportSize] = {"width": 375, "height": 812}
LIVE_TIMEOUT: Final = 15_000
# Sealing the key backup runs Argon2id in the page: seconds on a busy machine.
KEY_DERIVATION_MS: Final = 30_000


async def test_the_admin_adds_gps_by_e_mail_and_removes_one_in_the_console(
    watched: Watched,
    carechat: str,
    people: People,
    services: Services,
    carechat_db_name: str,
) -> None:
    page = watched.page
    # Refusals the test is about: a new panel has no epoch yet, and a patient's
    # address finds no practitioner.
    watched.expect_error(r"404 .*/panels/derm-[0-9a-f]+/epochs/latest")
    watched.expect_error(r"404 .*/panels/derm-[0-9a-f]+/member-lookup")
    await install_axe(page.context)
    admin_email, lena_email, tom_email = (unique_email(n) for n in ("admin", "lena", "tom"))
    admin = await people.person(admin_email, "practitioner", "Dr Sofie Peeters")
    lena = await people.person(lena_email, "practitioner", "Dr Lena Maes")
    await lena.create_keys()
    # Verified, but never signed in with keys: nothing can be sealed to him yet.
    tom = await people.person(tom_email, "practitioner", "Dr Tom Janssens")
    operator = await people.operator(services.mongo.uri, carechat_db_name)
    for doctor in (admin, lena, tom):
        await operator.api.request(
            "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration"
        )
    patient_email = unique_email("patient")
    await people.person(patient_email, name="Marie Dubois")
    suffix = uuid4().hex[:8]
    panel_id, name = f"derm-{suffix}", f"Dermatology {suffix}"

    # She sits on no panel yet: the console offers to create one, which she then runs.
    await page.goto(f"{carechat}/panel")
    await sign_in_and_create_keys(page, admin_email)
    await expect(
        page.get_by_role("heading", name="No GP panel is available to you.")
    ).to_be_visible(timeout=KEY_DERIVATION_MS)
    await page.get_by_label("Name of the panel").fill(name)
    await expect(page.get_by_label("Short id")).to_have_value(f"dermatology-{suffix}")
    await page.get_by_label("Short id").fill(panel_id)
    await page.get_by_role("button", name="Create the panel").click()
    await expect(page.get_by_role("alert")).to_contain_text("no GPs yet")
    assert (await admin.api.request("GET", f"/api/v1/panels/{panel_id}"))["admin_account"] == (
        admin.account_id
    )
    members = page.locator("section.members")
    address = members.get_by_label("The GP's e-mail address")
    add = members.get_by_role("button", name="Add to the panel")
    for email, refusal in (
        (patient_email, "No verified practitioner uses this address."),
        (tom_email, "Dr Tom Janssens has no keys yet"),
    ):
        await address.fill(email)
        await add.click()
        await expect(members.get_by_role("alert")).to_contain_text(refusal)
    inaccessible = await violations_at_sizes(page, "panel without GPs")

    # The admin answers questions too: adding herself opens the panel.
    await address.fill(admin_email)
    await add.click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=LIVE_TIMEOUT)
    await expect(members.locator("li.member")).to_have_text(["Dr Sofie Peeters (you)"])
    await address.fill(lena_email)
    await add.click()
    # Each change verifies the chain, seals a new key and signs it: seconds when busy.
    await expect(members.locator("li.member")).to_have_count(2, timeout=LIVE_TIMEOUT)
    await expect(members).to_contain_text("Dr Lena Maes")
    await expect(address).to_have_value("")

    # Lena's client is a member: it reads the names; her going online shows live.
    names = {m["display_name"] for m in await lena.panel.members(panel_id)}
    assert names == {"Dr Sofie Peeters", "Dr Lena Maes"}
    await lena.panel.online(panel_id)
    await expect(members.locator("li.member", has_text="Dr Lena Maes")).to_contain_text(
        "online", timeout=LIVE_TIMEOUT
    )
    # The admin's settings: the panel's, and a GP's own capacity beside it.
    settings = page.locator("section.settings")
    await settings.get_by_label("Minutes before a waiting patient is told").fill("45")
    await settings.get_by_label("Capacity of Dr Lena Maes").fill("1")
    await settings.get_by_role("button", name="Save the settings").click()
    await expect(settings.get_by_role("status")).to_have_text("The panel's settings were saved.")
    stored = await lena.api.request("GET", f"/api/v1/panels/{panel_id}")
    assert stored["settings"]["max_wait_minutes"] == 45
    assert stored["settings"]["capacity_overrides"] == {lena.account_id: 1}
    await expect(settings.get_by_label("Capacity of Dr Lena Maes")).to_have_value("1")
    inaccessible |= await violations_at_sizes(page, "panel members")
    assert inaccessible == {}, inaccessible
    await watched.screenshots("panel-members")
    await page.set_viewport_size(PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.set_viewport_size({"width": 1280, "height": 800})

    # Removed: the next epoch leaves her out, and the panel is closed to her.
    await page.get_by_role("button", name="Remove Dr Lena Maes from the panel").click()
    await expect(members.locator("li.member")).to_have_count(1, timeout=LIVE_TIMEOUT)
    with pytest.raises(NotFoundError):
        await lena.panel.queue(panel_id)
    # The same box in French.
    await page.get_by_label("Language").select_option("fr")
    await expect(page.get_by_role("heading", name="Médecins de ce panel")).to_be_visible()
