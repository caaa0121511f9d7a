"""The patient widget in Chromium against a real ``carechat serve``.

The practice's side is the Python SDK (tests/browser/care_team.py): what the page
encrypts, the SDK must decrypt and decode, and what the SDK sends, the page must show
live. The patient's side is only ever the page, driven by its labels and roles as a
keyboard or screen-reader user would find them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from uuid import uuid4

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    FilePayload,
    Page,
    Route,
    ViewportSize,
    expect,
)
from pymongo import AsyncMongoClient

from chat_server.tokens import token_hash
from e2e_crypto.client import CareChatClient, Provider
from e2e_crypto.client.events import Typing
from e2e_crypto.client.messages import ReceivedMessage
from e2e_crypto.client.payloads import (
    Attachment,
    BookingInvitation,
    ClosingSummary,
    RenewalRequest,
    Text,
)
from tests.browser.axe import install_axe, violations_at_sizes
from tests.browser.care_team import (
    PASSPHRASE,
    PASSWORD,
    PRACTITIONER_NAME,
    CareTeam,
    People,
    link_in_mail,
    unique_email,
)
from tests.browser.conftest import PRACTICE_ID, Site, Watched
from tests.browser.widget_menu import open_widget_menu
from tests.services import Services

FRAME: Final[ViewportSize] = {"width": 400, "height": 600}  # the loader's iframe
PHONE: Final[ViewportSize] = {"width": 375, "height": 812}
RECEIVE_TIMEOUT = 15.0
# Sealing or opening the key backup runs Argon2id in the page: seconds on a busy machine.
KEY_DERIVATION_MS = 30_000


async def open_widget(page: Page, carechat: str, practice_id: str) -> None:
    await page.set_viewport_size(FRAME)
    await page.goto(f"{carechat}/widget?practice={practice_id}")


async def create_keys(page: Page) -> None:
    await expect(page.get_by_role("heading", name="Protect your messages")).to_be_visible()
    await page.get_by_label("Recovery passphrase", exact=True).fill(PASSPHRASE)
    await page.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    await page.get_by_role("button", name="Create my keys").click()
    await expect(page.get_by_role("heading", name="Protect your messages")).to_be_hidden(
        timeout=KEY_DERIVATION_MS
    )


async def sign_in(page: Page, email: str) -> None:
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


@dataclass(frozen=True, slots=True)
class Conversation:
    patient: CareChatClient
    email: str
    thread_id: str


async def conversation_with_practice(
    page: Page, carechat: str, team: CareTeam, people: People
) -> Conversation:
    """A patient (made and linked through the SDK) signs in in the widget, creates
    keys there and starts a conversation, which the practitioner accepts."""
    email = unique_email("patient")
    patient = await people.person(email, name="Marie Dubois")
    await team.link(patient)
    await open_widget(page, carechat, team.practice_id)
    await sign_in(page, email)
    await create_keys(page)
    await page.get_by_role("button", name="Start a conversation").click()
    await expect(page.get_by_role("heading", name=PRACTITIONER_NAME)).to_be_visible()
    thread = next(
        t for t in await team.practitioner.threads() if t.patient_id == patient.account_id
    )
    await team.practitioner.thread_action(thread.thread_id, "accept")
    await expect(page.get_by_text("has not accepted this conversation")).to_be_hidden()
    await team.practitioner.connect(history="new")
    return Conversation(patient, email, thread.thread_id)


async def typing_seen(sdk: CareChatClient, thread_id: str) -> str:
    """The account ``sdk`` next hears typing in ``thread_id``."""
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        async for event in sdk.connection.events():
            if isinstance(event, Typing) and event.thread_id == thread_id:
                return event.account
    raise AssertionError("the events ended")


async def until_read(patient: CareChatClient, thread_id: str, seq: int) -> None:
    """Waits until the server holds ``patient``'s read mark at ``seq`` (unread 0)."""
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while True:
            summary = await patient.thread(thread_id)
            if summary.last_seq >= seq and summary.unread == 0:
                return
            await asyncio.sleep(0.1)


async def received(sdk: CareChatClient, thread_id: str) -> ReceivedMessage:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while True:
            message = await sdk.receive()
            if message.thread_id == thread_id:
                return message


async def test_sign_up_verify_keys_passphrase_and_request_a_thread(
    watched: Watched, carechat: str, outbox: Path, team: CareTeam, people: People
) -> None:
    page = watched.page
    email = unique_email("newpatient")
    await open_widget(page, carechat, team.practice_id)
    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Your name").fill("Lotte Janssens")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()

    # The link from the e-mail (the server's file outbox), pasted into the widget.
    await expect(page.get_by_role("heading", name="Confirm your e-mail address")).to_be_visible()
    verify_link = await link_in_mail(outbox, email, "/verify#")
    await page.get_by_label("Confirmation link or code").fill(verify_link)
    await page.get_by_role("button", name="Confirm").click()

    # Keys made in the page; the passphrase must be typed twice, the same.
    await expect(page.get_by_role("heading", name="Protect your messages")).to_be_visible()
    await page.get_by_label("Recovery passphrase", exact=True).fill(PASSPHRASE)
    await page.get_by_label("Type the passphrase again").fill(PASSPHRASE + " ")
    await page.get_by_role("button", name="Create my keys").click()
    await expect(page.get_by_role("alert")).to_have_text("The two passphrases are not the same.")
    await create_keys(page)

    # Not linked to the practice yet: ask, the practice accepts, then request a thread.
    await expect(page.get_by_role("heading", name="Your practice")).to_be_visible()
    await page.get_by_role("button", name="Ask to join this practice").click()
    await expect(page.get_by_text("Your request was sent.")).to_be_visible()
    patient = people.client()
    await patient.login(email, PASSWORD)
    await team.accept_link_request(patient.account_id)
    await page.get_by_role("button", name="Check again").click()
    await page.get_by_role("button", name="Start a conversation").click()
    await expect(page.get_by_role("heading", name=PRACTITIONER_NAME)).to_be_visible()
    await expect(page.get_by_text("has not accepted this conversation")).to_be_visible()

    # The practice sees the request; the server holds the key backup the page sealed.
    threads = [t for t in await team.practitioner.threads() if t.patient_id == patient.account_id]
    assert [t.state for t in threads] == ["requested"]
    assert threads[0].provider == Provider("practice", team.practice_id)
    assert await patient.api.get_key_backup()
    await watched.screenshots("widget-requested")

    # The practice accepts while the patient is writing: the page updates, the draft
    # and the focus stay.
    composer = page.get_by_label("Your message")
    await composer.fill("Hello, I have a question about")
    await team.practitioner.thread_action(threads[0].thread_id, "accept")
    await expect(page.get_by_text("has not accepted this conversation")).to_be_hidden()
    await expect(composer).to_have_value("Hello, I have a question about")
    await expect(composer).to_be_focused()


async def test_the_link_in_the_verification_e_mail_opens_the_verify_view(
    watched: Watched, carechat: str, outbox: Path, team: CareTeam
) -> None:
    page = watched.page
    await install_axe(page.context)
    email = unique_email("linkpatient")
    await open_widget(page, carechat, team.practice_id)
    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Your name").fill("Sofie Maes")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Confirm your e-mail address")).to_be_visible()

    # Opened from the mailbox, in a new page load: the token comes from the fragment.
    await page.goto(await link_in_mail(outbox, email, "/verify#"))
    await expect(page.get_by_role("heading", name="Confirm your e-mail address")).to_be_visible()
    assert page.url == f"{carechat}/verify"
    assert await violations_at_sizes(page, "verify") == {}
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Confirm").click()
    await create_keys(page)
    # The practice this browser came from is remembered: its page is next.
    await expect(page.get_by_role("button", name="Ask to join this practice")).to_be_visible()


async def test_a_message_reaches_the_practitioner_and_a_reply_shows_live(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    conversation = await conversation_with_practice(page, carechat, team, people)
    patient, thread_id = conversation.patient, conversation.thread_id
    canary = f"my knee hurts {uuid4().hex[:8]}"
    await page.get_by_label("Your message").fill(canary)
    # Typing in the page tells the practitioner (no content, only that it happens).
    assert await typing_seen(team.practitioner, thread_id) == patient.account_id
    await page.keyboard.press("Enter")

    message = await received(team.practitioner, thread_id)
    assert message.payload == Text(canary)
    mine = page.locator("li.w-msg.mine", has_text=canary)
    # "Sent" (stored) is passed on the way: the practitioner's software, which received
    # it, acknowledges it within moments, and the page says "Delivered".
    await expect(mine.locator(".w-status")).to_have_text("Delivered")

    await team.practitioner.read(thread_id, message.seq)
    await expect(mine.locator(".w-status")).to_have_text("Read")

    await team.practitioner.typing(thread_id)
    await expect(page.get_by_text(f"{PRACTITIONER_NAME} is typing…")).to_be_visible()
    reply = "Please come by tomorrow at 9."
    reply_seq = await team.practitioner.send(thread_id, reply)
    await expect(page.locator("li.w-msg.theirs", has_text=reply)).to_be_visible()
    # The page, showing the reply, said it was read: the server's unread count is 0.
    await until_read(patient, thread_id, reply_seq)
    await watched.screenshots("widget-conversation")

    # The safety number the page shows is the one the practitioner's software computes.
    await page.get_by_role("button", name="Safety numbers").click()
    await expect(page.get_by_role("heading", name="Safety numbers")).to_be_visible()
    shown = await page.locator(".w-safety-number").inner_text()
    expected = team.practitioner.safety_number(patient.account_id)
    assert shown.split() == expected.split()

    # Away from the conversation, a new message counts as unread, live.
    await page.get_by_role("button", name="Back to the conversation").click()
    await page.get_by_role("button", name="All conversations").click()
    row = page.locator(".w-thread-row", has_text=PRACTITIONER_NAME)
    await expect(row).to_contain_text("Open")
    await expect(row.locator(".w-badge")).to_have_count(0)
    await team.practitioner.send(thread_id, "One more thing.")
    await expect(row.locator(".w-badge")).to_have_text("1")
    await expect(row).to_contain_text("1 unread")
    await expect(row.locator("time")).to_have_count(1)
    await row.click()
    await expect(page.locator("li.w-msg.theirs", has_text="One more thing.")).to_be_visible()


async def test_the_renewal_form_sends_a_typed_payload(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    thread_id = (await conversation_with_practice(page, carechat, team, people)).thread_id
    # Keyboard only: the form opens with Enter, Escape closes it and gives focus back.
    opener = page.get_by_role("button", name="Prescription renewal")
    await opener.focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Request a prescription renewal")
    await expect(dialog.get_by_label("Medicine")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(opener).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Medicine").fill("Metformin")
    await dialog.get_by_role("button", name="Send request").click()
    await expect(dialog.get_by_role("alert")).to_have_text(
        "Please fill in the medicine, the dose and the pharmacy."
    )
    await dialog.get_by_label("Dose").fill("500 mg twice a day")
    await dialog.get_by_label("Pharmacy").fill("Apotheek De Linde")
    await watched.screenshots("widget-renewal-form")
    await dialog.get_by_role("button", name="Send request").click()
    await expect(dialog).to_be_hidden()

    message = await received(team.practitioner, thread_id)
    assert message.payload == RenewalRequest("Metformin", "500 mg twice a day", "Apotheek De Linde")
    card = page.locator("li.w-msg.mine .w-card-renewal")
    await expect(card.get_by_role("heading")).to_have_text("Prescription renewal request")
    await expect(card).to_contain_text("Metformin")

    # What the practitioner sends as typed payloads reads as cards, not as JSON.
    slot = datetime(2031, 3, 4, 9, 30, tzinfo=UTC)
    booking = BookingInvitation("practice", "Praktijk Zuid", (slot,), "https://book.example/zuid")
    await team.practitioner.send(thread_id, booking)
    booking_card = page.locator("li.w-msg.theirs .w-card-booking")
    await expect(booking_card.get_by_role("heading")).to_have_text(
        "Invitation to book an appointment"
    )
    await expect(booking_card).to_contain_text("Praktijk Zuid")
    await expect(booking_card.locator("time")).to_have_attribute(
        "datetime", "2031-03-04T09:30:00.000Z"
    )
    await expect(booking_card.get_by_role("link", name="Book online")).to_have_attribute(
        "href", "https://book.example/zuid"
    )
    closing = ClosingSummary("Knee sprain: rest and ice.", "Come back if it hurts in a week.")
    await team.practitioner.send(thread_id, closing)
    closing_card = page.locator("li.w-msg.theirs .w-card-closing")
    await expect(closing_card.get_by_role("heading")).to_have_text("Conversation summary")
    await expect(closing_card).to_contain_text("Knee sprain: rest and ice.")
    await expect(closing_card).to_contain_text("Come back if it hurts in a week.")
    # Cards and bubbles fit a phone: nothing scrolls sideways.
    await page.set_viewport_size(PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await watched.screenshots("widget-cards")


async def test_language_follows_the_browser_and_the_switcher(
    browser: Browser, carechat: str
) -> None:
    context = await browser.new_context(locale="fr-BE", viewport=FRAME)
    errors: list[str] = []
    try:
        page = await context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(error.message))
        await page.goto(f"{carechat}/widget?practice={PRACTICE_ID}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Écrivez à votre cabinet en toute sécurité"
        )
        await expect(page.locator("#notice")).to_have_text(
            "Pas pour les urgences \u2014 appelez le 112 (100 en Belgique, 15 en France)."
        )
        assert await page.evaluate("document.documentElement.lang") == "fr"

        # Keyboard only: the switcher is reachable and changes the whole page.
        switcher = page.get_by_label("Langue")
        await switcher.focus()
        await switcher.select_option("nl")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Stuur uw praktijk veilig een bericht"
        )
        await expect(page.locator("#notice")).to_contain_text("Niet voor noodgevallen")
        await page.reload()
        await expect(page.get_by_role("button", name="Account aanmaken")).to_be_visible()
    finally:
        await context.close()
    assert errors == []


async def test_the_widget_fits_a_375_px_phone(watched: Watched, carechat: str) -> None:
    page = watched.page
    await page.set_viewport_size(PHONE)
    await page.goto(f"{carechat}/widget?practice={PRACTICE_ID}")
    await page.get_by_role("button", name="Create an account").click()
    await expect(page.get_by_label("Your name")).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await expect(page.locator("#notice")).to_be_in_viewport()
    # Keyboard only: Tab reaches the first field after the header's controls.
    await page.get_by_label("Your name").focus()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("E-mail address")).to_be_focused()
    await watched.screenshots("widget-signup")


async def test_the_widget_runs_in_the_loaders_iframe_on_another_origin(
    watched: Watched, carechat: str, allowed_site: Site, people: People
) -> None:
    page = watched.page
    email = unique_email("framed")
    patient = await people.person(email)
    await page.goto(allowed_site.url)
    frame = page.frame_locator("iframe.carechat-widget")
    await expect(frame.get_by_role("heading", level=1)).to_have_text(
        "Message your practice securely"
    )
    # Sign-in, keys and the passphrase backup all work inside the third-party frame.
    await frame.get_by_role("button", name="Sign in").click()
    await frame.get_by_label("E-mail address").fill(email)
    await frame.get_by_label("Password", exact=True).fill(PASSWORD)
    await frame.get_by_role("button", name="Sign in").click()
    await expect(frame.get_by_role("heading", name="Protect your messages")).to_be_visible()
    await frame.get_by_label("Recovery passphrase", exact=True).fill(PASSPHRASE)
    await frame.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    await frame.get_by_role("button", name="Create my keys").click()
    await expect(frame.get_by_role("heading", name="Your practice")).to_be_visible(
        timeout=KEY_DERIVATION_MS
    )
    # Reminders of a waiting message: by e-mail no more, by text message still.
    await open_widget_menu(frame, "Settings")
    by_email = frame.get_by_role("checkbox", name="By e-mail")
    await expect(by_email).to_be_checked()
    await expect(frame.get_by_role("checkbox", name="By text message")).to_be_checked()
    await by_email.uncheck()
    await frame.get_by_role("button", name="Save").click()
    await expect(frame.get_by_text("Saved.")).to_be_visible()
    stored = await patient.api.request("GET", "/api/v1/accounts/me/notification-preferences")
    assert (stored["email"], stored["sms"]) == (False, True)
    await frame.get_by_role("button", name="Sign out", exact=True).click()
    await expect(frame.get_by_role("heading", level=1)).to_have_text(
        "Message your practice securely"
    )
    # The host page reaches none of it: the frame is on CareChat's origin.
    assert await page.evaluate(
        "() => { try { return document.querySelector('iframe').contentDocument === null; }"
        " catch { return true; } }"
    )
    await watched.screenshots("widget-in-practice-site")


async def test_an_invitation_link_connects_once_and_then_says_it_no_longer_works(
    watched: Watched,
    carechat: str,
    outbox: Path,
    team: CareTeam,
    people: People,
    services: Services,
    carechat_db_name: str,
) -> None:
    page = watched.page
    email = unique_email("invited")
    await people.person(email, name="Jan Claes")
    await team.practitioner.api.invite(Provider("practice", team.practice_id), "email", email)
    invitation = await link_in_mail(outbox, email, "/invite#")
    assert invitation.startswith(f"{carechat}/invite#")

    await install_axe(page.context)
    await page.set_viewport_size(FRAME)
    await page.goto(invitation)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # The secret left the address bar (and the history) as soon as the page read it.
    assert page.url == f"{carechat}/invite"
    inaccessible = await violations_at_sizes(page, "invite sign-in")
    await page.get_by_label("E-mail address").fill(email)
    watched.expect_error(r"status of 401 .* at .*/api/v1/sessions")
    await page.get_by_label("Password", exact=True).fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "The e-mail address or password is not correct."
    )
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await create_keys(page)
    await expect(page.get_by_role("heading", name="You are connected")).to_be_visible()
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("button", name="Start a conversation")).to_be_visible()

    # The same link again: a page that says what happened and what to do.
    watched.expect_error(r"status of 400 .* at .*/api/v1/invitations/accept")
    await page.goto(invitation)
    await expect(
        page.get_by_role("heading", name="This invitation link no longer works")
    ).to_be_visible()
    await expect(
        page.get_by_text("Ask your practice to send you a new invitation.")
    ).to_be_visible()
    inaccessible |= await violations_at_sizes(page, "invite no longer works")
    assert inaccessible == {}, inaccessible
    await watched.screenshots("widget-invitation-used")

    # A new invitation, opened only after it expired: the same page, never a blank one.
    await page.goto(f"{carechat}/widget?practice={team.practice_id}")
    await team.practitioner.api.invite(Provider("practice", team.practice_id), "email", email)
    expired = await link_in_mail(outbox, email, "/invite#", besides=invitation)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri)
    try:
        codes = mongo[carechat_db_name]["one_time_codes"]
        past = datetime.now(UTC) - timedelta(minutes=1)
        code_id = token_hash(expired.split("#", 1)[1])
        changed = await codes.update_one({"_id": code_id}, {"$set": {"expires_at": past}})
        assert changed.modified_count == 1
    finally:
        await mongo.close()
    await page.goto(expired)
    await expect(
        page.get_by_role("heading", name="This invitation link no longer works")
    ).to_be_visible()
    await expect(page.get_by_text("It has expired, was already used")).to_be_visible()


async def test_a_tampered_message_shows_as_could_not_be_verified(
    watched: Watched,
    carechat: str,
    team: CareTeam,
    people: People,
    services: Services,
    carechat_db_name: str,
) -> None:
    page = watched.page
    thread_id = (await conversation_with_practice(page, carechat, team, people)).thread_id
    await page.goto("about:blank")
    secret = f"tampered-{uuid4().hex[:8]}"
    seq = await team.practitioner.send(thread_id, secret)
    await team.practitioner.send(thread_id, "This one is intact.")
    # The server (or anyone with its database) changes one byte of a stored envelope.
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri)
    try:
        messages = mongo[carechat_db_name]["messages"]
        stored = await messages.find_one({"thread": thread_id, "seq": seq})
        assert stored is not None
        envelope = bytearray(stored["envelope"])
        envelope[-1] ^= 0x01
        await messages.update_one({"_id": stored["_id"]}, {"$set": {"envelope": bytes(envelope)}})
    finally:
        await mongo.close()

    await page.goto(f"{carechat}/widget?practice={team.practice_id}")
    await expect(page.locator("li.w-msg.theirs", has_text="This one is intact.")).to_be_visible()
    await expect(page.locator("li.w-msg.theirs .w-unverified")).to_have_text(
        "This message could not be verified."
    )
    await expect(page.get_by_text(secret)).to_have_count(0)


async def test_attachments_go_up_encrypted_and_a_file_failing_its_hash_is_refused(
    watched: Watched,
    carechat: str,
    team: CareTeam,
    people: People,
    services: Services,
    carechat_db_name: str,
    tmp_path: Path,
) -> None:
    page = watched.page
    thread_id = (await conversation_with_practice(page, carechat, team, people)).thread_id
    content = b"CRP 4 mg/L, all within range.\n" * 2000
    upload: FilePayload = {"name": "lab-results.txt", "mimeType": "text/plain", "buffer": content}
    # The upload is held at the network until the test has seen its progress shown.
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await page.route("**/api/v1/threads/*/attachments", hold)
    await page.locator("form.w-compose input[type=file]").set_input_files(files=[upload])
    progress = page.get_by_role("progressbar", name="Upload progress")
    await expect(progress).to_be_visible()
    await expect(page.get_by_text("Encrypting and sending lab-results.txt…")).to_be_visible()
    release.set()
    await expect(progress).to_be_hidden()
    message = await received(team.practitioner, thread_id)
    assert isinstance(message.payload, Attachment)
    assert (message.payload.name, message.payload.size) == ("lab-results.txt", len(content))
    fetched = await team.practitioner.download_attachment(message.payload, tmp_path / "got.txt")
    assert fetched.read_bytes() == content
    await expect(page.locator("li.w-msg.mine .w-file-name")).to_have_text("lab-results.txt")
    # Downloaded in the page: decrypted there, the same bytes, under its name.
    async with page.expect_download() as download_info:
        await (
            page.locator("li.w-msg.mine", has_text="lab-results.txt")
            .get_by_role("button", name="Download")
            .click()
        )
    download = await download_info.value
    assert download.suggested_filename == "lab-results.txt"
    saved = tmp_path / "downloaded.txt"
    await download.save_as(saved)
    assert saved.read_bytes() == content

    # The practitioner's file is altered where it is stored: the page refuses it.
    letter = tmp_path / "letter.txt"
    letter.write_bytes(b"Referral letter\n" * 100)
    _, sent = await team.practitioner.send_attachment(thread_id, letter, "letter.txt", "text/plain")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri)
    try:
        chunks = mongo[carechat_db_name]["attachments.chunks"]
        chunk = await chunks.find_one({"files_id": sent.attachment_id, "n": 0})
        assert chunk is not None
        data = bytearray(chunk["data"])
        data[-1] ^= 0x01
        await chunks.update_one({"_id": chunk["_id"]}, {"$set": {"data": bytes(data)}})
    finally:
        await mongo.close()
    card = page.locator("li.w-msg.theirs", has_text="letter.txt")
    await card.get_by_role("button", name="Download").click()
    await expect(card.get_by_role("alert")).to_have_text(
        "This file failed its integrity check and was refused. Ask the sender to send it again."
    )


async def test_a_new_browser_restores_the_keys_with_the_passphrase_and_reads_the_history(
    watched: Watched, browser: Browser, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    conversation = await conversation_with_practice(page, carechat, team, people)
    thread_id = conversation.thread_id
    await page.get_by_label("Your message").fill("Written on my laptop.")
    await page.keyboard.press("Enter")
    await received(team.practitioner, thread_id)
    await team.practitioner.send(thread_id, "Answered before you changed browsers.")

    context = await browser.new_context(viewport=FRAME)
    errors: list[str] = []
    try:
        other = await context.new_page()
        other.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        other.on("pageerror", lambda error: errors.append(error.message))
        await open_widget(other, carechat, team.practice_id)
        await sign_in(other, conversation.email)
        await expect(other.get_by_role("heading", name="Unlock your messages")).to_be_visible()
        await other.get_by_label("Recovery passphrase").fill("not my passphrase at all")
        await other.get_by_role("button", name="Unlock").click()
        await expect(other.get_by_role("alert")).to_have_text(
            "This passphrase does not unlock your messages. Check it and try again.",
            timeout=KEY_DERIVATION_MS,
        )
        await other.get_by_label("Recovery passphrase").fill(PASSPHRASE)
        await other.get_by_role("button", name="Unlock").click()
        await expect(
            other.locator("li.w-msg.mine", has_text="Written on my laptop.")
        ).to_be_visible(timeout=KEY_DERIVATION_MS)
        await expect(
            other.locator("li.w-msg.theirs", has_text="Answered before you changed browsers.")
        ).to_be_visible()

        # Leaving a shared computer: its keys go (and its device is revoked).
        await open_widget_menu(other, "Settings")
        await other.get_by_role("button", name="Sign out and remove my keys").click()
        await sign_in(other, conversation.email)
        await expect(other.get_by_role("heading", name="Unlock your messages")).to_be_visible()
        devices = await conversation.patient.api.account_devices(conversation.patient.account_id)
        assert len(devices["devices"]) == 1  # the first browser's only
    finally:
        await context.close()
    assert errors == []


async def test_a_revoked_browser_must_unlock_again_with_the_passphrase(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    conversation = await conversation_with_practice(page, carechat, team, people)
    patient = conversation.patient
    listing = await patient.api.account_devices(patient.account_id)
    (first_device,) = listing["devices"]
    # From another device of the patient (or after a theft): this browser is revoked.
    await patient.api.revoke_device(first_device["device_id"])
    await expect(page.get_by_role("heading", name="Unlock your messages")).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="was removed")).to_be_visible()
    await page.get_by_label("Recovery passphrase").fill(PASSPHRASE)
    await page.get_by_role("button", name="Unlock").click()
    await expect(page.get_by_role("heading", name=PRACTITIONER_NAME)).to_be_visible(
        timeout=KEY_DERIVATION_MS
    )
    # A new device now, which the practitioner's messages reach.
    devices = (await patient.api.account_devices(patient.account_id))["devices"]
    assert [d["device_id"] for d in devices] != [first_device["device_id"]]
    await team.practitioner.send(conversation.thread_id, "Still here after the revocation.")
    await expect(
        page.locator("li.w-msg.theirs", has_text="Still here after the revocation.")
    ).to_be_visible()


async def test_an_ended_session_is_sent_back_to_sign_in(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    conversation = await conversation_with_practice(page, carechat, team, people)
    # A password reset (or change) elsewhere ends every other session; the page asks
    # the server once whether it is only this device (a 401 says no).
    watched.expect_error(r"status of 401 .* at .*/api/v1/accounts/.*/devices")
    await conversation.patient.api.change_password(PASSWORD, PASSWORD + " and more")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="session has ended")).to_be_visible()


async def test_a_long_conversation_opens_on_its_newest_messages_without_duplicates(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    thread_id = (await conversation_with_practice(page, carechat, team, people)).thread_id
    await page.goto("about:blank")
    for n in range(1, 56):
        await team.practitioner.send(thread_id, f"Note {n:02d} of 55")

    await page.goto(f"{carechat}/widget?practice={team.practice_id}")
    messages = page.locator("li.w-msg.theirs")
    # Stored history and the socket's catch-up both bring messages: each shows once,
    # in order, the newest in view.
    await expect(messages.filter(has_text="Note 55 of 55")).to_be_in_viewport()
    await expect(messages).to_have_count(55)
    texts = await messages.locator(".w-text").all_inner_texts()
    assert texts == [f"Note {n:02d} of 55" for n in range(1, 56)]


async def test_a_page_that_cannot_load_says_so_and_tries_again(
    watched: Watched, carechat: str, people: People
) -> None:
    page = watched.page
    email = unique_email("offline")
    await people.person(email)
    await open_widget(page, carechat, PRACTICE_ID)
    await sign_in(page, email)
    # The network fails just when the practice page loads its care links.
    watched.expect_error(r"ERR_FAILED")
    await page.route("**/api/v1/care-links", lambda route: route.abort())
    await create_keys(page)
    await expect(page.get_by_role("alert")).to_have_text(
        "CareChat cannot be reached. Check your connection and try again."
    )
    await page.unroute("**/api/v1/care-links")
    await page.get_by_role("button", name="Try again").click()
    await expect(page.get_by_role("heading", name="Your practice")).to_be_visible()


async def test_every_view_of_the_widget_passes_axe_at_both_sizes(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    """axe-core finds no serious or critical violation in any of the widget's own views,
    at 1280 and 375 px: the forms from sign-up to unlocking on a new browser, the
    practice, the conversation and its dialogs, the list, safety numbers, settings."""
    page = watched.page
    await install_axe(page.context)
    await open_widget(page, carechat, team.practice_id)
    await page.get_by_role("button", name="Create an account").click()
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    found = await violations_at_sizes(page, "sign-up")
    await page.goto(f"{carechat}/widget?practice={team.practice_id}")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    found |= await violations_at_sizes(page, "sign-in")

    email = unique_email("axe")
    patient = await people.person(email, name="Marie Dubois")
    await team.link(patient)
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Protect your messages")).to_be_visible()
    found |= await violations_at_sizes(page, "keys")
    await create_keys(page)
    await expect(page.get_by_role("button", name="Start a conversation")).to_be_visible()
    found |= await violations_at_sizes(page, "practice")
    await page.get_by_role("button", name="Start a conversation").click()
    await expect(page.get_by_role("heading", name=PRACTITIONER_NAME)).to_be_visible()
    thread = next(
        t for t in await team.practitioner.threads() if t.patient_id == patient.account_id
    )
    await team.practitioner.thread_action(thread.thread_id, "accept")
    await team.practitioner.connect(history="new")
    await team.practitioner.send(thread.thread_id, "Hello, how can we help?")
    await expect(page.locator("li.w-msg.theirs", has_text="how can we help")).to_be_visible()
    found |= await violations_at_sizes(page, "conversation")

    await page.get_by_role("button", name="Prescription renewal").click()
    dialog = page.get_by_role("dialog", name="Request a prescription renewal")
    await expect(dialog.get_by_label("Medicine")).to_be_focused()
    found |= await violations_at_sizes(page, "renewal form")
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await page.get_by_role("button", name="Safety numbers").click()
    await expect(page.get_by_role("heading", name="Safety numbers")).to_be_visible()
    found |= await violations_at_sizes(page, "safety numbers")
    await page.get_by_role("button", name="Back to the conversation").click()
    await page.get_by_role("button", name="All conversations").click()
    await expect(page.locator(".w-thread-row", has_text=PRACTITIONER_NAME)).to_be_visible()
    found |= await violations_at_sizes(page, "conversations")
    await open_widget_menu(page, "Settings")
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    found |= await violations_at_sizes(page, "settings")

    # Leaving with this browser's keys removed: signing in again asks to unlock.
    await page.get_by_role("button", name="Sign out and remove my keys").click()
    await sign_in(page, email)
    await expect(page.get_by_role("heading", name="Unlock your messages")).to_be_visible()
    found |= await violations_at_sizes(page, "unlock")
    assert found == {}, found
