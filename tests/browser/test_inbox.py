"""The practitioner inbox (/app) in Chromium against a real server, with patients on
the Python SDK: sign-in with TOTP, keys made in the page, care requests, live
messages both ways, the renewal card and its reply, availability, fr/nl/en, 375 px.

Every account is new per test (unique addresses), so tests share the session's
server without seeing each other's threads.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from uuid import uuid4

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect
from pymongo import MongoClient

from chat_server import totp
from e2e_crypto.client import (
    Attachment,
    Backoff,
    BookingInvitation,
    CareChatClient,
    ClosingSummary,
    Provider,
    ReceivedMessage,
    RenewalRequest,
    ReportToGp,
    Text,
)
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.conftest import Watched, watched_browser
from tests.servers import FileOutboxReader
from tests.services import Services

PASSWORD: Final = "correct horse battery"
PASSPHRASE: Final = "seven tidy lanterns glow at dusk"
FAST: Final = Backoff(initial=0.05, factor=2.0, maximum=0.5)
ROOT: Final = Path(__file__).resolve().parents[2]
# Creating keys runs argon2id (64 MiB) in the page: allow it time on a busy machine.
KEYS_TIMEOUT_MS: Final = 30_000


class Crowd:
    """SDK clients for one test, all closed at its end; e-mails read from the outbox.

    The test's people (SDK and browser alike) come from their own address, named in
    ``X-Forwarded-For`` to the server, which trusts the loopback as its proxy: the
    per-address limits on registering and logging in then count each test apart, as
    they count real people apart, instead of the whole session from 127.0.0.1.
    """

    def __init__(self, base_url: str, data_dir: Path) -> None:
        self.base_url = base_url
        self.outbox = FileOutboxReader(data_dir / "data")
        self.clients: list[CareChatClient] = []
        self.sessions: list[aiohttp.ClientSession] = []
        self.tag = uuid4().hex[:10]
        self.address = (
            f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Forwarded-For": self.address}

    async def from_here(self, page: Page) -> None:
        """Makes ``page`` come from this test's address."""
        await page.set_extra_http_headers(self.headers)

    def email(self, name: str) -> str:
        return f"{name}-{self.tag}@example.org"

    def client(self) -> CareChatClient:
        session = aiohttp.ClientSession(headers=self.headers)
        self.sessions.append(session)
        sdk = CareChatClient(self.base_url, session=session, backoff=FAST)
        self.clients.append(sdk)
        return sdk

    async def register(self, name: str, role: str) -> CareChatClient:
        email = self.email(name)
        sdk = self.client()
        registration = {"scheme": "riziv", "number": "12345678901"}
        await sdk.register(
            email,
            PASSWORD,
            role,  # type: ignore[arg-type]
            name.capitalize(),
            registration if role == "practitioner" else None,
        )
        body = self.outbox.last_to(email).body
        await sdk.verify_email(body.split("/verify#", 1)[1].split()[0], PASSWORD)
        await sdk.login(email, PASSWORD)
        return sdk

    async def patient(self, name: str) -> CareChatClient:
        sdk = await self.register(name, "patient")
        await sdk.create_keys()
        return sdk

    async def close(self) -> None:
        for sdk in self.clients:
            await sdk.close()
        for session in self.sessions:
            await session.close()


@pytest.fixture
async def crowd(carechat: str, carechat_dir: Path) -> AsyncIterator[Crowd]:
    people = Crowd(carechat, carechat_dir)
    yield people
    await people.close()


async def enable_totp(doctor: CareChatClient) -> str:
    """Turns two-factor login on through the API, as the doctor's phone would; the
    secret, to compute later codes."""
    setup = await doctor.api.request("POST", "/api/v1/accounts/me/totp")
    secret = str(setup["secret"])
    code = totp.code_at(secret, totp.step_of(datetime.now(UTC)))
    await doctor.api.request("POST", "/api/v1/accounts/me/totp/confirm", {"code": code})
    return secret


async def sign_in(watched: Watched, carechat: str, crowd: Crowd, secret: str) -> None:
    """Signs in with password and TOTP and creates this browser's keys."""
    page = watched.page
    email = crowd.email("doctor")
    await crowd.from_here(page)
    # The password alone is refused (totp_required): the browser logs that 401.
    watched.expect_error(r"status of 401 .* at .*/api/v1/sessions$")
    await page.goto(carechat + "/app")
    code_field = page.get_by_label("Code from your authenticator app")
    await expect(code_field).to_be_hidden()  # asked only once the password is right
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(code_field).to_be_visible()
    # The confirmation used this step's code and a code is accepted once: the next
    # step's code is still inside the accepted window.
    await code_field.fill(totp.code_at(secret, totp.step_of(datetime.now(UTC)) + 1))
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("Recovery passphrase", exact=True).fill(PASSPHRASE)
    await page.get_by_label("Recovery passphrase, again").fill(PASSPHRASE)
    await page.get_by_role("button", name="Create my keys").click()
    await expect(page.locator(".workspace")).to_be_visible(timeout=KEYS_TIMEOUT_MS)


async def doctor_in_browser(watched: Watched, carechat: str, crowd: Crowd) -> CareChatClient:
    doctor = await crowd.register("doctor", "practitioner")
    secret = await enable_totp(doctor)
    await sign_in(watched, carechat, crowd, secret)
    return doctor


async def next_message(sdk: CareChatClient, within: float = 15.0) -> ReceivedMessage:
    async with asyncio.timeout(within):
        return await sdk.receive()


async def open_thread_with(page: Page, ann: CareChatClient, doctor: CareChatClient) -> str:
    """Ann (linked) starts a care thread and writes; the doctor opens and accepts it
    in the page. The thread's id."""
    thread = await ann.start_thread(Provider("practitioner", doctor.account_id))
    await ann.connect()
    await ann.send(thread.thread_id, "Bonjour docteur, j'ai de la fièvre depuis hier.")
    entry = page.locator(f'button.entry[data-thread="{thread.thread_id}"]')
    await expect(entry).to_have_attribute("data-state", "requested")
    await expect(entry.locator(".unread-count")).to_contain_text("1 unread")
    await entry.click()
    await expect(page.locator(".message.theirs .text")).to_have_text(
        "Bonjour docteur, j'ai de la fièvre depuis hier."
    )
    await page.locator(".thread-head").get_by_role("button", name="Accept").click()
    await expect(page.locator(".thread-title .badge")).to_have_text("Open")
    return thread.thread_id


async def test_practitioner_accepts_a_request_reads_and_answers(
    watched: Watched, carechat: str, crowd: Crowd
) -> None:
    page = watched.page
    await install_axe(page.context)
    doctor = await doctor_in_browser(watched, carechat, crowd)
    ann = await crowd.patient("ann")

    # Ann asks to become the doctor's patient; the request is in the inbox to accept.
    await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    await page.reload()
    request = page.locator(".link-request")
    await expect(request).to_contain_text("Ann asks to be your patient")
    inaccessible = await violations_at_sizes(page, "care-link request")
    await request.get_by_role("button", name="Accept").click()
    await expect(request).to_have_count(0)
    [link] = await ann.api.care_links()
    assert link["status"] == "active"

    thread_id = await open_thread_with(page, ann, doctor)
    # Opened, so read: the unread badge is gone and Ann sees the read receipt.
    entry = page.locator(f'button.entry[data-thread="{thread_id}"]')
    await expect(entry.locator(".unread-count")).to_have_count(0)

    composer = page.get_by_label("Message", exact=True)
    await composer.fill("Prenez du paracétamol et reposez-vous.")
    await composer.press("Enter")
    reply = await next_message(ann)
    assert reply.thread_id == thread_id
    assert reply.sender_account == doctor.account_id
    assert reply.payload == Text("Prenez du paracétamol et reposez-vous.")
    await expect(page.locator(".message.mine .text")).to_have_text(
        "Prenez du paracétamol et reposez-vous."
    )

    # Ann reads it: the doctor's message turns "Read" live.
    assert reply.seq is not None
    await ann.read(thread_id, reply.seq)
    await expect(page.locator(".message.mine .status")).to_have_text("Read")

    # The safety number the page shows is the one Ann's app shows.
    await page.get_by_role("button", name="Safety number").click()
    await expect(page.locator(".safety-number")).to_have_text(ann.safety_number(doctor.account_id))
    inaccessible |= await violations_at_sizes(page, "thread with its safety number")
    assert inaccessible == {}, inaccessible
    await watched.screenshots("inbox-thread")


async def test_renewal_request_is_a_card_and_approving_answers_the_patient(
    watched: Watched, carechat: str, crowd: Crowd
) -> None:
    page = watched.page
    doctor = await doctor_in_browser(watched, carechat, crowd)
    ann = await crowd.patient("ann")
    asked = await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    # The doctor's own software may answer the link too: the page shows it either way.
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    thread_id = await open_thread_with(page, ann, doctor)

    await ann.send(thread_id, RenewalRequest("Amlodipine", "5 mg", "Pharmacie du Parc", None))
    card = page.locator('.message[data-type="renewal_request"]')
    await expect(card.locator(".card-title")).to_have_text("Prescription renewal request")
    await expect(card.locator("dd")).to_have_text(["Amlodipine", "5 mg", "Pharmacie du Parc"])
    await expect(page.locator(".upload")).to_be_hidden()
    await watched.screenshots("inbox-renewal")
    await card.get_by_role("button", name="Approve").click()
    reply = await next_message(ann)
    assert reply.payload == Text("Renewal approved: Amlodipine 5 mg, at Pharmacie du Parc.")

    # A second request, declined with a reason.
    await ann.send(thread_id, RenewalRequest("Oxazepam", "15 mg", "Apotheek Noord", "For sleep"))
    second = page.locator('.message[data-type="renewal_request"]').nth(1)
    await expect(second.locator("dd")).to_have_text(
        ["Oxazepam", "15 mg", "Apotheek Noord", "For sleep"]
    )
    await expect(second.get_by_label("Reason (optional)")).to_be_hidden()
    await second.get_by_role("button", name="Decline").click()
    await second.get_by_label("Reason (optional)").fill("Let us talk at the practice first.")
    # Ann writes meanwhile: her message (and the read receipt the page sends for it)
    # must not take the reason being typed away.
    await ann.send(thread_id, "Merci docteur.")
    await expect(page.locator(".message.theirs .text").last).to_have_text("Merci docteur.")
    await expect(second.get_by_label("Reason (optional)")).to_have_value(
        "Let us talk at the practice first."
    )
    await second.get_by_role("button", name="Send decline").click()
    declined = await next_message(ann)
    assert declined.payload == Text(
        "Renewal declined: Oxazepam 15 mg. Reason: Let us talk at the practice first."
    )


async def test_typed_payloads_composed_in_the_page_reach_the_sdk(
    watched: Watched, carechat: str, crowd: Crowd
) -> None:
    page = watched.page
    await install_axe(page.context)
    doctor = await doctor_in_browser(watched, carechat, crowd)
    ann = await crowd.patient("ann")
    asked = await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    await open_thread_with(page, ann, doctor)

    await page.get_by_role("button", name="Closing summary").click()
    await expect(page.get_by_label("Summary", exact=True)).to_be_visible()
    inaccessible = await violations_at_sizes(page, "closing summary form")
    await page.get_by_label("Summary", exact=True).fill("Viral fever; no antibiotics.")
    await page.get_by_label("Follow-up").fill("Come back if above 39 °C after 3 days.")
    await page.get_by_role("button", name="Send summary").click()
    summary = await next_message(ann)
    assert summary.payload == ClosingSummary(
        "Viral fever; no antibiotics.", "Come back if above 39 °C after 3 days."
    )

    # The server sends a report to the GP (marked so in the signed header) only with
    # the patient's consent.
    await ann.consent("report_to_gp")
    await page.get_by_role("button", name="Report to GP").click()
    await expect(page.get_by_label("GP's name")).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "report to GP form")
    await page.get_by_label("GP's name").fill("Dr. Janssens")
    await page.get_by_label("GP's contact").fill("+32 2 555 01 01")
    await page.get_by_label("Report", exact=True).fill("Seen for fever, resolved.")
    await page.get_by_role("button", name="Send report").click()
    report = await next_message(ann)
    assert report.payload == ReportToGp(
        "Seen for fever, resolved.", "Dr. Janssens", "+32 2 555 01 01"
    )

    await page.get_by_role("button", name="Booking invitation").click()
    await expect(page.get_by_label("Booking link")).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "booking invitation form")
    assert inaccessible == {}, inaccessible
    await page.get_by_label("Booking link").fill("https://book.example.be/dr")
    await page.get_by_role("button", name="Send invitation").click()
    invitation = await next_message(ann)
    assert invitation.payload == BookingInvitation(
        "practitioner", "Doctor", (), "https://book.example.be/dr", None
    )
    await expect(page.locator('.message.mine[data-type="booking_invitation"]')).to_be_visible()


async def test_availability_change_persists(watched: Watched, carechat: str, crowd: Crowd) -> None:
    page = watched.page
    await install_axe(page.context)
    doctor = await doctor_in_browser(watched, carechat, crowd)
    await page.get_by_role("button", name="Taking new requests").click()
    await expect(page.get_by_label("Take new care requests")).to_be_visible()
    assert await violations_at_sizes(page, "settings") == {}
    await page.get_by_label("Take new care requests").uncheck()
    await page.get_by_label("Away message").fill("Back on Monday 2 December.")
    await page.locator("#availability-title + form").get_by_role("button", name="Save").click()
    await expect(page.locator("#availability-title + form .saved")).to_have_text("Saved.")
    await expect(page.locator(".availability")).to_have_text("Away")

    # After a reload the page shows what the server kept, and patients meet it.
    await page.reload()
    await expect(page.locator(".availability")).to_have_text("Away")
    await page.get_by_role("button", name="Away").click()
    await expect(page.get_by_label("Take new care requests")).not_to_be_checked()
    await expect(page.get_by_label("Away message")).to_have_value("Back on Monday 2 December.")
    me = await doctor.api.me()
    assert me["availability"] == {
        "accepting_requests": False,
        "away_message": "Back on Monday 2 December.",
    }

    # How a waiting message is announced: e-mail off, kept across a reload.
    email = page.get_by_label("By e-mail")
    await expect(email).to_be_enabled()
    await expect(email).to_be_checked()
    await email.uncheck()
    await page.locator("#notify-title + form").get_by_role("button", name="Save").click()
    await expect(page.locator("#notify-title + form .saved")).to_have_text("Saved.")
    prefs = await doctor.api.request("GET", "/api/v1/accounts/me/notification-preferences")
    assert prefs["email"] is False
    assert prefs["sms"] is True
    await page.reload()
    await page.get_by_role("button", name="Away").click()
    await expect(page.get_by_label("By e-mail")).to_be_enabled()
    await expect(page.get_by_label("By e-mail")).not_to_be_checked()

    # Signing out: a reload does not bring the session back. Once the page has loaded
    # as the practitioner sees it (the list read, connected, the settings filled in):
    # a request still under way when the session ends is refused (401) in the console.
    await expect(page.locator(".connection")).to_have_attribute("data-state", "online")
    await expect(page.locator(".devices")).to_contain_text("This browser")
    await expect(page.get_by_text("You have not blocked anyone.")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to your inbox")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in to your inbox")).to_be_visible()


async def test_language_switcher_and_phone_width(
    watched: Watched, carechat: str, crowd: Crowd
) -> None:
    page = watched.page
    doctor = await doctor_in_browser(watched, carechat, crowd)
    ann = await crowd.patient("ann")
    asked = await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    thread_id = await open_thread_with(page, ann, doctor)

    await page.set_viewport_size({"width": 375, "height": 812})
    # One column: the thread, its back button, and nothing wider than the phone.
    await expect(page.locator(".sidebar")).to_be_hidden()
    back = page.get_by_role("button", name="Back")
    await expect(back).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await back.click()
    entry = page.locator(f'button.entry[data-thread="{thread_id}"]')
    await expect(entry).to_be_focused()
    # Keyboard only: Enter opens the focused conversation again.
    await page.keyboard.press("Enter")
    await expect(page.locator(".thread")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375

    await page.locator(".topbar select.language").select_option("fr")
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page.get_by_role("button", name="Retour")).to_be_visible()
    await expect(page.locator("#notice")).to_contain_text("Pas pour les urgences")
    await page.locator(".topbar select.language").select_option("nl")
    await expect(page.get_by_role("button", name="Terug")).to_be_visible()
    await watched.screenshots("inbox-phone-nl")


def test_catalogs_have_the_same_keys_in_fr_nl_and_en() -> None:
    script = (
        "const keys = async (l) => Object.keys((await import("
        "`./web/src/inbox/messages/${l}.mjs`)).default).sort();"
        "console.log(JSON.stringify({en: await keys('en'), fr: await keys('fr'),"
        " nl: await keys('nl')}));"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
        timeout=30,
    ).stdout
    catalogs = json.loads(out)
    assert catalogs["fr"] == catalogs["en"]
    assert catalogs["nl"] == catalogs["en"]
    assert len(catalogs["en"]) > 100


async def sign_in_without_totp(watched: Watched, carechat: str, crowd: Crowd) -> None:
    """A practitioner inside the TOTP grace period: password, "later", then keys."""
    page = watched.page
    email = crowd.email("doctor")
    await crowd.from_here(page)
    await page.goto(carechat + "/app")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Later").click()


async def doctor_without_totp(watched: Watched, carechat: str, crowd: Crowd) -> CareChatClient:
    """A practitioner in the TOTP grace period, signed in with keys in the page."""
    doctor = await crowd.register("doctor", "practitioner")
    await sign_in_without_totp(watched, carechat, crowd)
    page = watched.page
    await page.get_by_label("Recovery passphrase", exact=True).fill(PASSPHRASE)
    await page.get_by_label("Recovery passphrase, again").fill(PASSPHRASE)
    await page.get_by_role("button", name="Create my keys").click()
    await expect(page.locator(".workspace")).to_be_visible(timeout=KEYS_TIMEOUT_MS)
    return doctor


async def test_practitioner_sets_up_totp_in_the_page(
    watched: Watched, carechat: str, crowd: Crowd
) -> None:
    page = watched.page
    await install_axe(page.context)
    doctor = await crowd.register("doctor", "practitioner")
    await crowd.from_here(page)
    await page.goto(carechat + "/app")
    await expect(page.get_by_label("E-mail address")).to_be_focused()
    await watched.screenshots("inbox-signin")
    await page.get_by_label("E-mail address").fill(crowd.email("doctor"))
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await watched.screenshots("inbox-totp-offer")
    await page.set_viewport_size({"width": 375, "height": 812})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await page.set_viewport_size({"width": 1280, "height": 800})
    inaccessible = await violations_at_sizes(page, "two-factor offer")
    await page.get_by_role("button", name="Set up now").click()
    secret = (await page.locator("#totp-secret").inner_text()).replace(" ", "")
    inaccessible |= await violations_at_sizes(page, "two-factor set-up")
    await page.get_by_label("6-digit code").fill("000000")
    watched.expect_error(r"status of 401 .* at .*/api/v1/accounts/me/totp/confirm$")
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.locator(".alert")).to_have_text(
        "That code is not valid. Type the current code from your app."
    )
    await page.get_by_label("6-digit code").fill(
        totp.code_at(secret, totp.step_of(datetime.now(UTC)))
    )
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.get_by_role("heading", name="Protect your messages")).to_be_visible()
    assert (await doctor.api.me())["totp_enabled"] is True
    inaccessible |= await violations_at_sizes(page, "keys")
    assert inaccessible == {}, inaccessible
    await watched.screenshots("inbox-keys")


async def test_tampered_message_shows_as_could_not_be_verified(
    watched: Watched, carechat: str, carechat_db_name: str, services: Services, crowd: Crowd
) -> None:
    page = watched.page
    doctor = await doctor_in_browser(watched, carechat, crowd)
    ann = await crowd.patient("ann")
    asked = await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    thread_id = await open_thread_with(page, ann, doctor)
    await ann.send(thread_id, "Mon dossier: canary-7Q2X")
    await expect(page.locator(".message.theirs .text").nth(1)).to_have_text(
        "Mon dossier: canary-7Q2X"
    )

    # A hostile server changes one byte of the stored envelope.
    client: MongoClient[dict[str, Any]] = MongoClient(services.mongo.uri)
    with client:
        messages = client[carechat_db_name]["messages"]
        stored = messages.find_one({"thread": thread_id, "seq": 2})
        assert stored is not None
        envelope = bytearray(stored["envelope"])
        envelope[-1] ^= 0x01
        messages.update_one({"_id": stored["_id"]}, {"$set": {"envelope": bytes(envelope)}})

    await page.reload()
    await page.locator(f'button.entry[data-thread="{thread_id}"]').click()
    await expect(page.locator(".message.theirs").nth(1).locator(".unverified")).to_have_text(
        "This message could not be verified."
    )
    await expect(page.locator(".message.theirs .text")).to_have_count(1)
    assert "canary-7Q2X" not in await page.locator("#root").inner_text()


async def test_attachments_both_ways(
    watched: Watched, carechat: str, crowd: Crowd, tmp_path: Path
) -> None:
    page = watched.page
    doctor = await doctor_in_browser(watched, carechat, crowd)
    ann = await crowd.patient("ann")
    asked = await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    thread_id = await open_thread_with(page, ann, doctor)

    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 700)  # ~180 kB, three chunks
    await ann.send_attachment(thread_id, scan, "scan.pdf", "application/pdf")
    card = page.locator('.message.theirs[data-type="attachment"]')
    await expect(card.locator(".file-name")).to_have_text("scan.pdf")
    async with page.expect_download() as download_info:
        await card.get_by_role("button", name="Download").click()
    download = await download_info.value
    assert download.suggested_filename == "scan.pdf"
    saved = tmp_path / "downloaded.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == scan.read_bytes()

    report = tmp_path / "lab-results.txt"
    report.write_bytes("Hémoglobine 13,5 g/dL\n".encode() * 5000)
    await page.locator("input.file-input").set_input_files(report)
    received = await next_message(ann)
    assert isinstance(received.payload, Attachment)
    assert received.payload.name == "lab-results.txt"
    fetched = await ann.download_attachment(received.payload, tmp_path / "fetched.txt")
    assert fetched.read_bytes() == report.read_bytes()
    await expect(page.locator('.message.mine[data-type="attachment"] .file-name')).to_have_text(
        "lab-results.txt"
    )


async def test_a_second_browser_restores_reads_history_and_revokes_the_first(
    watched: Watched, browser: Browser, carechat: str, crowd: Crowd
) -> None:
    page = watched.page
    doctor = await doctor_without_totp(watched, carechat, crowd)
    ann = await crowd.patient("ann")
    asked = await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    thread_id = await open_thread_with(page, ann, doctor)

    async with watched_browser(browser) as second:
        other = second.page
        await install_axe(other.context)
        await sign_in_without_totp(second, carechat, crowd)
        await expect(
            other.get_by_role("heading", name="Unlock your conversations on this browser")
        ).to_be_visible()
        assert await violations_at_sizes(other, "restore") == {}
        # A wrong passphrase is refused in the page (the backup does not open).
        await other.get_by_label("Recovery passphrase").fill("not the right passphrase")
        await other.get_by_role("button", name="Restore").click()
        await expect(other.locator(".alert")).to_be_visible(timeout=KEYS_TIMEOUT_MS)
        await other.get_by_label("Recovery passphrase").fill(PASSPHRASE)
        await other.get_by_role("button", name="Restore").click()
        await expect(other.locator(".workspace")).to_be_visible(timeout=KEYS_TIMEOUT_MS)
        await other.locator(f'button.entry[data-thread="{thread_id}"]').click()
        await expect(other.locator(".message.theirs .text")).to_have_text(
            "Bonjour docteur, j'ai de la fièvre depuis hier."
        )

        # Two devices; the first browser's can be revoked from here.
        await other.get_by_role("button", name="Taking new requests").click()
        devices = other.locator(".devices li")
        await expect(devices).to_have_count(2)
        await expect(devices.filter(has_text="This browser")).to_have_count(1)
        revoke = other.locator(".devices").get_by_role("button", name="Revoke")
        await revoke.click()
        await other.locator(".devices").get_by_role("button", name="Confirm: revoke").click()
        await expect(devices).to_have_count(1)
        await expect(devices).to_contain_text("This browser")
    # The revoked browser's socket is closed: it is back at the sign-in.
    await expect(page.get_by_role("heading", name="Sign in to your inbox")).to_be_visible()


async def test_keyboard_unread_typing_and_a_declined_request(
    watched: Watched, carechat: str, crowd: Crowd
) -> None:
    page = watched.page
    doctor = await doctor_in_browser(watched, carechat, crowd)
    ann, bob = await crowd.patient("ann"), await crowd.patient("bob")
    for patient in (ann, bob):
        asked = await patient.api.request_care_link(Provider("practitioner", doctor.account_id))
        await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    ann_thread = await open_thread_with(page, ann, doctor)

    # Bob's request arrives while Ann's thread is open: counted, not shown.
    bob_thread = (await bob.start_thread(Provider("practitioner", doctor.account_id))).thread_id
    await bob.connect()
    await bob.send(bob_thread, "Puis-je avoir un rendez-vous ?")
    bob_entry = page.locator(f'button.entry[data-thread="{bob_thread}"]')
    await expect(bob_entry.locator(".unread-count")).to_contain_text("1 unread")
    await expect(page.locator(".sidebar-title .unread-count")).to_have_text("1")
    await expect(page.locator(".message .text")).to_have_count(1)

    # Ann types: the page says so.
    await ann.typing(ann_thread)
    await expect(page.locator(".typing")).to_have_text("Ann is typing…")

    # Keyboard only: Tab into the list, arrows between conversations, Enter opens.
    ann_entry = page.locator(f'button.entry[data-thread="{ann_thread}"]')
    await ann_entry.focus()
    await page.keyboard.press("Home")
    await expect(bob_entry).to_be_focused()  # requests are listed first
    await page.keyboard.press("ArrowDown")
    await expect(ann_entry).to_be_focused()
    await page.keyboard.press("ArrowUp")
    await expect(bob_entry).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#thread-title")).to_have_text("Bob")
    await expect(page.locator("#thread-title")).to_be_focused()
    await expect(page.locator(".message .text")).to_have_text("Puis-je avoir un rendez-vous ?")
    await expect(bob_entry.locator(".unread-count")).to_have_count(0)

    # Declined: the thread leaves the requests, and Bob's client sees it declined.
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await expect(page.locator('.thread-head [data-action="decline"]')).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator(".thread-title .badge")).to_have_text("Declined")
    await expect(bob_entry).to_have_attribute("data-state", "declined")
    assert (await bob.thread(bob_thread)).state == "declined"

    # Blocking asks once more before it happens.
    carol = await crowd.patient("carol")
    asked = await carol.api.request_care_link(Provider("practitioner", doctor.account_id))
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    carol_thread = (await carol.start_thread(Provider("practitioner", doctor.account_id))).thread_id
    await page.locator(f'button.entry[data-thread="{carol_thread}"]').click()
    block = page.locator('.thread-head [data-action="block"]')
    await block.click()
    await expect(block).to_have_text("Confirm: block")
    assert (await carol.thread(carol_thread)).state == "requested"
    await block.click()
    await expect(page.locator(".thread-title .badge")).to_have_text("Blocked")
    assert (await carol.thread(carol_thread)).state == "blocked"


async def test_a_long_thread_opens_at_its_end_and_shows_earlier_messages_on_demand(
    watched: Watched, carechat: str, crowd: Crowd
) -> None:
    page = watched.page
    doctor = await doctor_without_totp(watched, carechat, crowd)
    ann = await crowd.patient("ann")
    asked = await ann.api.request_care_link(Provider("practitioner", doctor.account_id))
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    thread_id = await open_thread_with(page, ann, doctor)
    # The doctor's own software, restored from the page's backup, writes too (each
    # device stays under the server's per-device send rate).
    desk = crowd.client()
    await desk.login(crowd.email("doctor"), PASSWORD)
    await desk.restore_keys(PASSPHRASE)
    await desk.connect()
    for n in range(2, 56):
        await ann.send(thread_id, f"Question {n}")
    for n in range(56, 106):
        await desk.send(thread_id, f"Answer {n}")

    # Reopened from the kept session: no TOTP offer again, straight to the inbox.
    await page.reload()
    await page.locator(f'button.entry[data-thread="{thread_id}"]').click()
    messages = page.locator(".message")
    await expect(messages.last.locator(".text")).to_have_text("Answer 105")
    await expect(messages).to_have_count(100)
    await expect(messages.first.locator(".text")).to_have_text("Question 6")
    await page.get_by_role("button", name="Show earlier messages").click()
    await expect(messages).to_have_count(105)
    await expect(messages.first.locator(".text")).to_have_text(
        "Bonjour docteur, j'ai de la fièvre depuis hier."
    )
    await expect(page.get_by_role("button", name="Show earlier messages")).to_have_count(0)


async def test_the_page_speaks_the_browsers_language(browser: Browser, carechat: str) -> None:
    for locale, lang, title in (
        ("fr-BE", "fr", "Connexion à votre messagerie"),
        ("nl-BE", "nl", "Aanmelden bij uw inbox"),
        ("de-DE", "en", "Sign in to your inbox"),  # not offered: English
    ):
        context = await browser.new_context(locale=locale)
        try:
            page = await context.new_page()
            await page.goto(carechat + "/app")
            await expect(page.get_by_role("heading", level=1)).to_have_text(title)
            await expect(page.locator("html")).to_have_attribute("lang", lang)
        finally:
            await context.close()
