"""The moderator console (/moderation) in Chromium against a real ``carechat serve``.

A practitioner's insult reaches a patient, whose client (the Python SDK) reports it,
revealing the text; the server verifies it. A moderator (a platform admin made as
``carechat admin create-admin`` does) signs in to the console, sees the verified
report with the revealed text, looks the sender up, suspends them with a reason (their
socket closes; their next login says why), lifts it, resolves the report, finds all
of it in the audit log, verifies the chain, and retries a failed job. axe finds no
serious violation at desktop and phone sizes; screenshots of each section at both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
import pytest
from playwright.async_api import Page, expect
from pymongo import AsyncMongoClient

from chat_server.admin import create_admin
from chat_server.clock import SystemClock
from chat_server.jobs.store import JobStore
from e2e_crypto.client import SessionRevoked
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import PASSWORD, People, unique_email
from tests.browser.conftest import Watched
from tests.browser.moderators import MODERATOR_PASSWORD
from tests.sdk.conversation import care_thread, take
from tests.services import Services

INSULT: Final = "You are useless and I know where you live"
SOCKET_CLOSE_S: Final = 10.0


@pytest.fixture
async def mongo(services: Services) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri, tz_aware=True)
    try:
        yield client
    finally:
        await client.close()


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def login_refusal(carechat: str, email: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{carechat}/api/v1/sessions", json={"email": email, "password": PASSWORD}
        )
        body: dict[str, Any] = await response.json(content_type=None)
        return response.status, body


async def test_a_moderator_decides_a_verified_report_and_sanctions_its_sender(
    watched: Watched,
    carechat: str,
    people: People,
    mongo: AsyncMongoClient[dict[str, Any]],
    services: Services,
    carechat_db_name: str,
) -> None:
    page = watched.page
    db = mongo[carechat_db_name]
    moderator_email = unique_email("moderator")
    await create_admin(db, SystemClock(), moderator_email, MODERATOR_PASSWORD)
    operator = await people.operator(services.mongo.uri, carechat_db_name)

    # The practitioner insults the patient; the patient's client reports it.
    doctor_email = unique_email("doctor")
    doctor = await people.person(doctor_email, "practitioner", "Dr Jan Claes")
    await doctor.create_keys()
    await operator.api.request(
        "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration"
    )
    patient = await people.person(unique_email("patient"), name="Marie Dubois")
    await patient.create_keys()
    thread_id = await care_thread(patient, doctor)
    await doctor.connect()
    await patient.connect()
    await doctor.send(thread_id, INSULT)
    [received] = await take(patient, 1)
    assert await patient.report(received, "harassment") == "verified"

    # A failed job for the console's last section (its payload must not show). No
    # process runs this kind, so once retried it stays due instead of failing again.
    jobs = JobStore(db)
    now = SystemClock().now()
    job_id = await jobs.enqueue(
        "mail_digest", {"account": patient.account_id}, now=now, run_at=now, max_attempts=1
    )
    assert job_id is not None
    await jobs.fail(job_id, None, now=now, error="ServerSelectionTimeoutError")

    await install_axe(page.context)
    await page.goto(f"{carechat}/moderation")
    await expect(page.get_by_label("E-mail address")).to_be_visible()
    inaccessible = await violations_at_sizes(page, "moderation sign-in")
    await sign_in(page, moderator_email, MODERATOR_PASSWORD)

    # The report, with its verification and the text the patient revealed.
    await expect(page.get_by_role("heading", name="Reports waiting")).to_be_visible()
    # Other tests on this server file reports too: this one is found by its thread.
    report = page.get_by_role("article", name="Report: Harassment").filter(
        has_text=f"{thread_id} #1"
    )
    await expect(report.get_by_text("Verified sender")).to_be_visible()
    await expect(report.get_by_text(INSULT)).to_be_visible()
    await expect(report.get_by_text(f"{thread_id} #1")).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "moderation reports")
    await watched.screenshots("moderation-reports")
    # In French and Dutch too.
    await page.get_by_label("Language").select_option("fr")
    await expect(page.get_by_role("heading", name="Signalements en attente")).to_be_visible()
    french = page.get_by_role("article", name="Signalement : Harcèlement").filter(
        has_text=f"{thread_id} #1"
    )
    await expect(french.get_by_text("Expéditeur vérifié")).to_be_visible()
    await page.get_by_label("Langue").select_option("nl")
    await expect(page.get_by_role("heading", name="Wachtende meldingen")).to_be_visible()
    await page.get_by_label("Taal").select_option("en")

    # The sender's account, then a suspension with a reason and a note.
    await report.get_by_role("button", name="Look up").click()
    await expect(page.get_by_role("heading", name="Dr Jan Claes")).to_be_visible()
    await expect(page.get_by_text(doctor_email)).to_be_visible()
    await expect(page.get_by_text("Active", exact=True)).to_be_visible()
    # No reason: the page refuses before asking the server.
    await page.get_by_label("Action").select_option("suspend")
    await page.get_by_role("button", name="Apply").click()
    await expect(
        page.get_by_role("alert").filter(has_text="Choose a reason first.")
    ).to_be_visible()
    await page.get_by_label("Reason").select_option("harassment")
    await page.get_by_label("Note for the person").fill("Insults to a patient on 29 Nov.")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_text("Suspended", exact=True)).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "moderation account")
    await watched.screenshots("moderation-account")

    # The suspended practitioner's socket closes, and the next login says why.
    async with asyncio.timeout(SOCKET_CLOSE_S):
        with pytest.raises(SessionRevoked):
            await doctor.receive()
    status, refused = await login_refusal(carechat, doctor_email)
    assert (status, refused["code"]) == (403, "account_suspended")
    assert refused["suspension"]["reason"] == "harassment"
    assert refused["suspension"]["note"] == "Insults to a patient on 29 Nov."

    await page.get_by_label("Action").select_option("lift")
    await page.get_by_label("Reason").select_option("mistake")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_text("Active", exact=True)).to_be_visible()
    history = page.get_by_role("table").first
    await expect(history.get_by_role("row")).to_have_count(3)  # heading, suspend, lift
    status, _ = await login_refusal(carechat, doctor_email)
    assert status == 201

    # The report is resolved, with a reason; it leaves the queue.
    await page.get_by_role("button", name="Reports").click()
    await report.get_by_label("Reason").select_option("action_taken")
    await report.get_by_role("button", name="Resolve").click()
    await expect(report).to_have_count(0)

    # The audit log: everything done to the practitioner's account, and a sound chain.
    await page.get_by_role("button", name="Audit log").click()
    await page.get_by_label("Subject (id)").fill(doctor.account_id)
    await page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("table")
    for action in ("account_suspended", "suspension_lifted", "data_access"):
        await expect(results.get_by_text(action, exact=True).first).to_be_visible()
    await page.get_by_label("Action").select_option("account_suspended")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(results.get_by_role("row")).to_have_count(2)
    await expect(results.get_by_text("reason=harassment, note=true")).to_be_visible()
    await page.get_by_role("button", name="Verify the chain").click()
    await expect(page.get_by_text("The chain holds")).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "moderation audit")
    await watched.screenshots("moderation-audit")

    # The failed job, without its payload; retried, it leaves the list.
    await page.get_by_role("button", name="Failed jobs").click()
    row = page.get_by_role("row", name="mail_digest")
    await expect(row.get_by_text("ServerSelectionTimeoutError")).to_be_visible()
    await expect(page.get_by_text(patient.account_id)).to_have_count(0)
    inaccessible |= await violations_at_sizes(page, "moderation jobs")
    await watched.screenshots("moderation-jobs")
    await row.get_by_role("button", name="Retry").click()
    await expect(page.get_by_text("No failed job.")).to_be_visible()
    assert inaccessible == {}, inaccessible


async def test_the_console_is_for_platform_admins_only(
    watched: Watched, carechat: str, people: People
) -> None:
    page = watched.page
    email = unique_email("patient")
    await people.person(email)
    await page.goto(f"{carechat}/moderation")
    await sign_in(page, email, PASSWORD)
    await expect(page.get_by_text("This account is not a platform admin")).to_be_visible()
    await expect(page.get_by_role("button", name="Reports")).to_have_count(0)
