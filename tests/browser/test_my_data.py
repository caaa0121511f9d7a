"""The widget's "My data" page in Chromium against a real ``carechat serve``: the
export downloads a real archive (which the Python SDK then decrypts with the
passphrase the page sealed the keys under), and an erasure is requested with the
password, shown again at the next visit, and cancelled."""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from e2e_crypto.client import ExportArchive, Text
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import PASSPHRASE, PASSWORD, CareTeam, People, care_team
from tests.browser.conftest import Watched
from tests.browser.test_widget import conversation_with_practice
from tests.browser.widget_menu import open_widget_menu
from tests.services import Services

# Sealing or opening keys runs Argon2id: seconds on a busy machine.
SLOW_MS = 30_000


@pytest.fixture
def outbox(carechat_dir: Path) -> Path:
    return carechat_dir / "data" / "outbox"


@pytest.fixture
async def people(carechat: str, outbox: Path) -> AsyncIterator[People]:
    crowd = People(carechat, outbox)
    yield crowd
    await crowd.close()


@pytest.fixture
async def team(people: People, services: Services, carechat_db_name: str) -> CareTeam:
    return await care_team(people, services.mongo.uri, carechat_db_name)


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
