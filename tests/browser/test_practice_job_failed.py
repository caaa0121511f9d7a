"""The practice console says why a campaign paused itself when its fan-out job kept
failing (MongoDB refusing the deliveries, for real), in en, fr and nl, and its Resume
sends the rest once the cause is fixed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from uuid import uuid4

from playwright.async_api import expect
from pymongo import AsyncMongoClient

from e2e_crypto.keys import DeviceKeys
from tests.browser.care_team import People, unique_email
from tests.browser.conftest import Watched
from tests.browser.signin import sign_in_and_create_keys
from tests.mailings import seed_campaign, synthetic_patients
from tests.services import Services

KEY_DERIVATION_MS: Final = 30_000  # Argon2id in the page on a busy machine
LIVE_MS: Final = 20_000
RECIPIENTS: Final = 20


async def test_the_console_shows_a_failed_job_pause_and_resumes_it(
    watched: Watched, carechat: str, people: People, services: Services, carechat_db_name: str
) -> None:
    console = watched.page
    admin_email = unique_email("practice-admin")
    admin = await people.person(admin_email, "practice_admin", "Cabinet du Lac")
    practice_id = str((await admin.api.create_practice("Cabinet du Lac"))["practice_id"])
    campaign_id = f"failing-{uuid4().hex[:16]}"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri, tz_aware=True)
    db = mongo[carechat_db_name]
    try:
        await seed_campaign(
            db,
            practice_id=practice_id,
            sender=DeviceKeys.generate(admin.account_id, f"seed-{uuid4().hex[:8]}"),
            campaign_id=campaign_id,
            patients=synthetic_patients(RECIPIENTS, prefix=f"f{uuid4().hex[:6]}-"),
            now=datetime.now(UTC),
        )
        # As if four attempts had already failed (the served default pauses at five,
        # and waiting out their real back-off would take over a minute): MongoDB
        # refuses this campaign's deliveries, so the next batch fails for real.
        await db["campaigns"].update_one({"_id": campaign_id}, {"$set": {"failed_batches": 4}})
        await db.command(
            "collMod",
            "campaign_deliveries",
            validator={"campaign": {"$ne": campaign_id}},
            validationAction="error",
        )
        await admin.api.request("POST", f"/api/v1/campaigns/{campaign_id}/schedule", {})

        watched.expect_error(r"404 .*/api/v1/groups/staff-[^/]+/epochs/latest")
        await console.goto(f"{carechat}/practice?practice={practice_id}")
        await sign_in_and_create_keys(console, admin_email)
        await expect(
            console.get_by_role("heading", name="Cabinet du Lac", exact=True)
        ).to_be_visible(timeout=KEY_DERIVATION_MS)
        shown = console.locator(f'.campaign[data-campaign="{campaign_id}"]')
        # The console reads a campaign under way again every few seconds.
        await expect(shown).to_have_attribute("data-state", "paused", timeout=LIVE_MS)
        alert = shown.locator(".alert")
        await expect(alert).to_contain_text("Paused: it stopped itself after sending failed")
        await expect(alert).to_contain_text("fix the cause, then resume it")
        await console.get_by_label("Language").select_option("fr")
        await expect(alert).to_contain_text("En pause : elle s'est arrêtée d'elle-même")
        await expect(alert).to_contain_text("corriger la cause, puis reprenez-la")
        await console.get_by_label("Langue").select_option("nl")
        await expect(alert).to_contain_text("Gepauzeerd: ze is zelf gestopt")
        await expect(alert).to_contain_text("de oorzaak op te lossen en hervat ze dan")
        await console.get_by_label("Taal").select_option("en")
        state = await admin.api.request("GET", f"/api/v1/campaigns/{campaign_id}")
        assert (state["pause_reason"], state["progress"]["delivered"]) == ("job_failed", 0)

        # The cause fixed, the console resumes it: every recipient, once.
        await db.command("collMod", "campaign_deliveries", validator={})
        await shown.get_by_role("button", name="Resume").click()
        await expect(shown).to_have_attribute("data-state", "done", timeout=LIVE_MS)
        await expect(shown.locator(".alert")).to_have_count(0)
        await expect(shown.locator('[data-count="delivered"] dd')).to_have_text(str(RECIPIENTS))
        assert (
            await db["campaign_deliveries"].count_documents({"campaign": campaign_id}) == RECIPIENTS
        )
    finally:
        await db.command("collMod", "campaign_deliveries", validator={})
        await mongo.close()
