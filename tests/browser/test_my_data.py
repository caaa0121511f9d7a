"""The widget's "My data" page in Chromium against a real ``carechat serve``: the
export downloads a real archive (which the Python SDK then decrypts with the
passphrase the page sealed the keys under), and an erasure is requested with the
password, shown again at the next visit, and cancelled. A suspended patient, who
cannot sign in, reaches the same two actions from the suspension screen with the
login's proof (the session-less ``/api/v1/personal-data`` routes)."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import aiohttp
from playwright.async_api import expect

from e2e_crypto.client import ExportArchive, Text
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import PASSPHRASE, PASSWORD, CareTeam, People, unique_email
from tests.browser.conftest import Watched
from tests.browser.moderators import suspend
from tests.browser.test_widget import conversation_with_practice, open_widget, sign_in
from tests.browser.widget_menu import open_widget_menu

# Sealing or opening keys runs Argon2id: seconds on a busy machine.
SLOW_MS = 30_000


async def test_my_data_downloads_the_export_and_an_erasure_is_requested_then_cancelled(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    await install_axe(page.context)
    conversation = await conversation_with_practice(page, carechat, team, people)
    await team.practitioner.send(conversation.thread_id, "Your results are normal.")
    await expect(page.get_by_text("Your results are normal.")).to_be_visible()

    await open_widget_menu(page, "My data")
    await expect(page.get_by_role("heading", name="My data", level=1)).to_be_visible()
    export = page.get_by_role("region", name="Download my data")
    # The password is asked again; a wrong one says so and downloads nothing.
    watched.expect_error(r"status of 401 .* at .*/api/v1/accounts/me/export")
    await export.get_by_label("Password").fill("not my password")
    await export.get_by_role("button", name="Download my data").click()
    await expect(export.get_by_role("alert")).to_have_text(
        "The e-mail address or password is not correct."
    )
    await export.get_by_label("Password").fill(PASSWORD)
    async with page.expect_download() as started:
        await export.get_by_role("button", name="Download my data").click()
    download = await started.value
    assert download.suggested_filename == "carechat-export.zip"
    saved = await download.path()
    await expect(export.get_by_role("status")).to_have_text("Your data was downloaded.")
    with zipfile.ZipFile(saved) as archive:
        document = json.loads(archive.read("archive.json"))
    assert document["account_id"] == conversation.patient.account_id
    assert [t["thread_id"] for t in document["threads"]] == [conversation.thread_id]
    # Encrypted inside; the passphrase the page sealed the keys under opens it.
    [thread] = ExportArchive.open(saved).decrypt(PASSPHRASE).threads
    assert [m.payload for m in thread.messages] == [Text("Your results are normal.")]

    erase = page.get_by_role("region", name="Erase my account")
    await expect(erase.get_by_text("Kept, because the law requires it")).to_be_visible()
    await erase.get_by_label("Password").fill(PASSWORD)
    await erase.get_by_role("button", name="Erase my account").click()
    await expect(erase.get_by_role("alert")).to_have_text(
        "Tick the box to confirm you want your account erased."
    )
    await erase.get_by_label("I understand that my account will be erased").check()
    await erase.get_by_role("button", name="Erase my account").click()
    await expect(erase.get_by_text("Your account will be erased on")).to_be_visible()
    status = await conversation.patient.api.erasure()
    assert status["pending"] is True
    await watched.screenshots("widget-my-data-erasure-pending")
    assert await violations_at_sizes(page, "my-data") == {}

    # The next visit opens on the pending erasure, with the way to cancel it.
    await page.reload()
    await expect(page.get_by_role("heading", name="My data", level=1)).to_be_visible(
        timeout=SLOW_MS
    )
    erase = page.get_by_role("region", name="Erase my account")
    await expect(erase.get_by_text("Your account will be erased on")).to_be_visible()
    await erase.get_by_role("button", name="Cancel the erasure").click()
    await expect(erase.get_by_role("status")).to_have_text(
        "The erasure is cancelled: your account stays."
    )
    assert (await conversation.patient.api.erasure()) == {"pending": False}
    await expect(erase.get_by_role("button", name="Erase my account")).to_be_visible()


async def _erasure_status(carechat: str, email: str) -> Any:
    """The pending erasure as the server has it, asked with the login's proof."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{carechat}/api/v1/personal-data/erasure/status",
            json={"email": email, "password": PASSWORD},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def test_a_suspended_patient_downloads_their_data_and_asks_erasure_without_a_session(
    watched: Watched, carechat: str, team: CareTeam, people: People, moderator: str
) -> None:
    page = watched.page
    await install_axe(page.context)
    email = unique_email("suspended")
    patient = await people.person(email, name="Marie Dubois")
    await suspend(carechat, moderator, patient.account_id)
    watched.expect_error(r"status of 403 .* at .*/api/v1/sessions$")  # the refused sign-in
    await open_widget(page, carechat, team.practice_id)
    await sign_in(page, email)
    await expect(
        page.get_by_role("alert").filter(has_text="This account is suspended")
    ).to_be_visible()
    entry = page.get_by_role("region", name="Your data")
    await expect(entry).to_contain_text("The suspension does not take away your rights")
    inaccessible = await violations_at_sizes(page, "widget suspended, with the data entry")
    await entry.get_by_role("button", name="Download my data or erase my account").click()

    # The login's proof first: the address of the refused sign-in is filled in.
    await expect(page.get_by_role("heading", name="My data", level=1)).to_be_visible()
    proof = page.get_by_role("region", name="Confirm it is you")
    await expect(proof.get_by_label("E-mail address")).to_have_value(email)
    watched.expect_error(r"status of 401 .* at .*/api/v1/personal-data/erasure/status$")
    await proof.get_by_label("Password").fill("not my password")
    await proof.get_by_role("button", name="Continue").click()
    await expect(proof.get_by_role("alert")).to_have_text(
        "The e-mail address or password is not correct."
    )
    inaccessible |= await violations_at_sizes(page, "suspended data proof")
    await proof.get_by_label("Password").fill(PASSWORD)
    await proof.get_by_role("button", name="Continue").click()

    # The export needs no password again: the proof was just given.
    export = page.get_by_role("region", name="Download my data")
    async with page.expect_download() as started:
        await export.get_by_role("button", name="Download my data").click()
    download = await started.value
    assert download.suggested_filename == "carechat-export.zip"
    await expect(export.get_by_role("status")).to_have_text("Your data was downloaded.")
    with zipfile.ZipFile(await download.path()) as archive:
        document = json.loads(archive.read("archive.json"))
    assert document["account_id"] == patient.account_id
    assert document["account"]["status"] == "suspended"

    # In French and Dutch too, without giving the proof again.
    await page.get_by_label("Language").select_option("fr")
    await expect(page.get_by_role("heading", name="Mes données", level=1)).to_be_visible()
    await expect(page.get_by_role("region", name="Effacer mon compte")).to_be_visible()
    await page.get_by_label("Langue").select_option("nl")
    await expect(page.get_by_role("region", name="Mijn account verwijderen")).to_be_visible()
    await page.get_by_label("Taal").select_option("en")

    erase = page.get_by_role("region", name="Erase my account")
    await expect(erase.get_by_label("Password")).to_have_count(0)
    # Said for an account that cannot sign in: it comes back here to cancel.
    await expect(erase).to_contain_text("come back to this page and cancel it")
    await erase.get_by_role("button", name="Erase my account").click()
    await expect(erase.get_by_role("alert")).to_have_text(
        "Tick the box to confirm you want your account erased."
    )
    await erase.get_by_label("I understand that my account will be erased").check()
    await erase.get_by_role("button", name="Erase my account").click()
    await expect(erase.get_by_text("Your account will be erased on")).to_be_visible()
    await expect(erase).to_contain_text("Cancel the erasure before that date.")
    assert (await _erasure_status(carechat, email))["pending"] is True
    inaccessible |= await violations_at_sizes(page, "suspended data erasure pending")
    await watched.screenshots("widget-suspended-my-data")

    await erase.get_by_role("button", name="Cancel the erasure").click()
    await expect(erase.get_by_role("status")).to_have_text(
        "The erasure is cancelled: your account stays."
    )
    assert await _erasure_status(carechat, email) == {"pending": False}
    # Back to the suspension, which still says why.
    await page.get_by_role("button", name="Back").click()
    await expect(
        page.get_by_role("alert").filter(has_text="This account is suspended")
    ).to_be_visible()
    assert inaccessible == {}, inaccessible
