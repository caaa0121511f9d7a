"""End to end, across pages: the patient widget and the practitioner inbox in Chromium,
on the world ``carechat demo`` seeds, against a real ``carechat serve``.

One conversation, in order (one test: each step needs the one before):

1. Bram (patient) opens the practice's own site, signs in in the embedded widget and
   unlocks his keys with his recovery passphrase; Dr. Dubois does the same in the
   inbox, in another browser context. Both see the history the demo sealed.
2. They exchange messages and an attachment; a canary typed into the widget goes
   out end to end.
3. The server is restarted mid-conversation (a graceful stop, then a new process):
   a message written while it is down shows "Sending…", then goes out and turns
   "Read"; both pages resume by themselves and nothing is lost.
4. A third context (a new browser) restores Bram's keys from the passphrase and
   reads the whole history, the attachment included.
5. The canary is nowhere in MongoDB (every collection, GridFS included), Redis or
   the server's logs.

Every page is screenshotted at 1280x800 and 375x812 into test-output/screenshots/,
and any console error or CSP violation fails the test (``watch``). Accessibility
(axe-core, from npm) and the budgets (bundle sizes, navigation to first decrypted
message, a 200-message thread) are separate tests on the same world; the budgets
are recorded in test-output/web-budgets.json (docs/benchmarks.md keeps the figures),
never asserted against a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from uuid import uuid4

import pytest
from playwright.async_api import Browser, BrowserContext, FrameLocator, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from carechat_demo.cast import CONVERSATIONS, PASSWORD, person
from chat_server.web_manifest import DEFAULT_BUILD_DIR, load_manifest
from e2e_crypto.client import CareChatClient, Text
from tests.browser.axe import AXE, axe, serious
from tests.browser.canary import scan_mongodb, scan_redis
from tests.browser.conftest import _REPORT_VIOLATIONS, CHROMIUM, SIZES, Watched
from tests.browser.demo_world import DemoWorld, demo_world
from tests.services import Services

ROOT: Final = Path(__file__).resolve().parents[2]
OUTPUT: Final = ROOT / "test-output"
# Unlocking runs argon2id (64 MiB) in the page, and a reconnect waits out a back-off.
SLOW_MS: Final = 60_000
BRAM, MARC, ANNE = (person(k) for k in ("bram", "marc", "anne"))
LONG_THREAD: Final = 200

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def world(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DemoWorld]:
    async for seeded in demo_world(services, tmp_path_factory.mktemp("e2e")):
        yield seeded


@pytest.fixture(scope="module")
def budgets() -> Iterator[dict[str, Any]]:
    """Figures the tests measure; written out once the module is done."""
    figures: dict[str, Any] = {}
    yield figures
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / "web-budgets.json"
    known = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**known, **figures}, indent=2, sort_keys=True) + "\n")


# What a browser logs by itself while the server is down: a refused connection.
RESTART_NOISE: Final = r"net::ERR_CONNECTION_REFUSED|WebSocket connection to .* failed"


@dataclass(slots=True)
class Watching(Watched):
    """``Watched`` that may also tolerate errors a step causes on purpose without
    requiring them (a reconnect may or may not fall into the restart's gap)."""

    tolerated: list[re.Pattern[str]] = field(default_factory=list)

    def tolerate(self, pattern: str) -> None:
        self.tolerated.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        # Watched.unexpected, not super(): slots=True dataclasses are rebuilt classes.
        found = Watched.unexpected(self)
        return [e for e in found if not any(p.search(e) for p in self.tolerated)]


@pytest.fixture
async def watch(browser: Browser) -> AsyncIterator[Callable[..., Awaitable[Watching]]]:
    """New browser contexts (each a separate browser profile: its own IndexedDB), each
    page watched like conftest's ``watched``; every one is checked at the end."""
    opened: list[tuple[BrowserContext, Watching]] = []

    async def new(**options: Any) -> Watching:
        width, height = SIZES["desktop"]
        options.setdefault("viewport", {"width": width, "height": height})
        context = await browser.new_context(**options)
        await context.add_init_script(_REPORT_VIOLATIONS)
        page = await context.new_page()
        watched = Watching(page)
        page.on(
            "console",
            lambda m: (
                watched.errors.append(f"{m.text} at {m.location.get('url', '?')}")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: watched.errors.append(f"uncaught: {e.message}"))
        opened.append((context, watched))
        return watched

    yield new
    for n, (context, watched) in enumerate(opened):
        # What each page showed last: the first thing to look at when a step failed.
        OUTPUT.joinpath("screenshots").mkdir(parents=True, exist_ok=True)
        await watched.page.screenshot(path=str(OUTPUT / "screenshots" / f"e2e-last-{n}.png"))
        await context.close()
    for _, watched in opened:
        assert watched.unexpected() == [], "console errors or CSP violations"
        assert watched.missing() == [], "expected refusals that did not happen"


# -- the widget (patient), inside the practice's site ---------------------------------------


def widget_of(page: Page) -> FrameLocator:
    return page.frame_locator("iframe.carechat-widget")


async def widget_sign_in(page: Page, world: DemoWorld, email: str, passphrase: str) -> FrameLocator:
    await page.goto(world.site_url)
    widget = widget_of(page)
    await widget.get_by_role("button", name="Sign in").click()
    await widget.get_by_label("E-mail address").fill(email)
    await widget.get_by_label("Password", exact=True).fill(PASSWORD)
    await widget.get_by_role("button", name="Sign in").click()
    await widget.get_by_label("Recovery passphrase", exact=True).fill(passphrase)
    await widget.get_by_role("button", name="Unlock").click()
    return widget


async def widget_open_conversation(widget: FrameLocator) -> None:
    """From wherever the widget lands (a patient with one open conversation sees it at
    once; otherwise the practice's list) to the conversation."""
    messages = widget.get_by_role("log", name="Messages")
    row = widget.locator("button.w-thread-row")
    await expect(messages.or_(row).first).to_be_visible(timeout=SLOW_MS)
    if not await messages.is_visible():
        await row.first.click()
    await expect(messages).to_be_visible(timeout=SLOW_MS)


def widget_message(widget: FrameLocator, text: str) -> Any:
    return widget.locator("li.w-msg", has_text=text)


async def widget_send(widget: FrameLocator, text: str) -> None:
    composer = widget.get_by_label("Your message")
    await composer.fill(text)
    await composer.press("Enter")


# -- the inbox (practitioner) ---------------------------------------------------------------


async def inbox_sign_in(page: Page, world: DemoWorld, email: str, passphrase: str) -> None:
    """Password sign-in (the practitioner without two-factor login declines the offer
    to set it up), then this browser unlocks the keys with the recovery passphrase."""
    await page.goto(world.base_url + "/app")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    passphrase_field = page.get_by_label("Recovery passphrase", exact=True)
    later = page.get_by_role("button", name="Later")
    await expect(passphrase_field.or_(later)).to_be_visible(timeout=SLOW_MS)
    if await later.is_visible():
        await later.click()
    await passphrase_field.fill(passphrase)
    await page.get_by_role("button", name="Restore").click()
    await expect(page.locator(".workspace")).to_be_visible(timeout=SLOW_MS)


async def inbox_open_thread(page: Page, thread_id: str) -> None:
    await page.locator(f'button.entry[data-thread="{thread_id}"]').click(timeout=SLOW_MS)


def inbox_message(page: Page, text: str) -> Any:
    return page.locator(".message", has_text=text)


async def inbox_send(page: Page, text: str) -> None:
    composer = page.get_by_label("Message", exact=True)
    await composer.fill(text)
    await composer.press("Enter")


def thread_of(world: DemoWorld, patient_email: str) -> str:
    with world.db() as client:
        doc = client[world.db_name].threads.find_one({"patient_id": world.accounts[patient_email]})
    assert doc is not None
    return str(doc["_id"])


def seeded_lines(patient_key: str) -> list[str]:
    conversation = next(c for c in CONVERSATIONS if c.patient == patient_key)
    return [line.payload.body for line in conversation.lines if isinstance(line.payload, Text)]


# -- the conversation -----------------------------------------------------------------------


async def test_patient_and_practitioner_across_pages_a_restart_and_a_new_browser(
    world: DemoWorld, watch: Callable[..., Awaitable[Watching]], tmp_path: Path
) -> None:
    canary = f"CANARY-{uuid4().hex}"
    thread_id = thread_of(world, BRAM.email)

    # 1. Both sign in on new browsers and unlock their keys with their passphrases.
    patient = await watch()
    widget = await widget_sign_in(patient.page, world, BRAM.email, BRAM.passphrase)
    await widget_open_conversation(widget)
    for text in seeded_lines("bram"):
        await expect(widget_message(widget, text)).to_be_visible(timeout=SLOW_MS)
    doctor = await watch()
    await inbox_sign_in(doctor.page, world, MARC.email, MARC.passphrase)
    await inbox_open_thread(doctor.page, thread_id)
    for text in seeded_lines("bram"):
        await expect(inbox_message(doctor.page, text)).to_be_visible(timeout=SLOW_MS)
    # The README's pictures (docs/img/widget.png and inbox.png are these, at 1280x800).
    await patient.screenshots("e2e-widget")
    await doctor.screenshots("e2e-inbox")

    # 2. Messages both ways, and an attachment, live.
    await widget_send(widget, f"{canary} my throat is sore again")
    await expect(inbox_message(doctor.page, canary)).to_be_visible(timeout=SLOW_MS)
    await inbox_send(doctor.page, "Since when? Any fever?")
    await expect(widget_message(widget, "Any fever?")).to_be_visible(timeout=SLOW_MS)
    scan = tmp_path / "throat-photo.txt"
    scan.write_bytes(f"{canary} pretend this is a photo of my throat\n".encode())
    async with patient.page.expect_file_chooser() as chooser:
        await widget.get_by_role("button", name="Attach a file").click()
    await (await chooser.value).set_files(str(scan))
    await expect(widget_message(widget, scan.name)).to_be_visible(timeout=SLOW_MS)
    await expect(inbox_message(doctor.page, scan.name)).to_be_visible(timeout=SLOW_MS)
    async with doctor.page.expect_download() as download:
        await inbox_message(doctor.page, scan.name).get_by_role("button", name="Download").click()
    saved = tmp_path / "downloaded"
    await (await download.value).save_as(saved)
    assert saved.read_bytes() == scan.read_bytes()

    # 3. The server restarts mid-conversation: the pages reconnect by themselves. While
    # it is down the browser reports the refused connections; nothing else may show.
    for side in (patient, doctor):
        side.tolerate(RESTART_NOISE)
    world.stop()
    # Written while the server is down: the page keeps it and says it is not sent yet.
    await widget_send(widget, "Since Tuesday, 38.2 this morning.")
    written_offline = widget_message(widget, "38.2 this morning")
    await expect(written_offline.locator(".w-status")).to_have_text("Sending…")
    world.start()
    await expect(inbox_message(doctor.page, "38.2 this morning")).to_be_visible(timeout=SLOW_MS)
    # Resent after the reconnect, stored once, and read by the practitioner, who has
    # the conversation open: the status says so.
    await expect(written_offline.locator(".w-status")).to_have_text("Read", timeout=SLOW_MS)
    await inbox_send(doctor.page, "Come by at 17:00 today.")
    await expect(widget_message(widget, "17:00 today")).to_be_visible(timeout=SLOW_MS)
    # Nothing from before the restart was lost on either side.
    await expect(widget_message(widget, "my throat is sore again")).to_be_visible()
    await expect(inbox_message(doctor.page, "my throat is sore again")).to_be_visible()

    await patient.screenshots("e2e-widget-resumed")
    await doctor.screenshots("e2e-inbox-resumed")

    # 4. A new browser: Bram restores from his passphrase and reads everything.
    third = await watch()
    again = await widget_sign_in(third.page, world, BRAM.email, BRAM.passphrase)
    await widget_open_conversation(again)
    for text in [*seeded_lines("bram"), canary, "Any fever?", scan.name, "38.2", "17:00"]:
        await expect(widget_message(again, text)).to_be_visible(timeout=SLOW_MS)
    await third.screenshots("e2e-widget-restored")

    # 5. The canary crossed the whole system and is stored nowhere in the clear.
    with world.db() as client:
        stored = scan_mongodb(client, world.db_name, canary.encode())
    assert stored.looked_at > 0
    assert stored.found_in == ()
    cached = scan_redis(world.redis_url, world.redis_prefix, canary.encode())
    assert cached.found_in == ()
    logs = world.logs()
    assert "POST /api/v1/sessions" in logs  # the scan reads the real logs
    assert canary not in logs


# -- accessibility --------------------------------------------------------------------------


async def test_no_serious_accessibility_violation_on_any_page(
    world: DemoWorld, watch: Callable[..., Awaitable[Watching]]
) -> None:
    assert AXE.is_file(), "run `npm ci` (axe-core is a dev dependency)"
    found: dict[str, list[str]] = {}
    for size, (width, height) in SIZES.items():
        patient = await watch(viewport={"width": width, "height": height})
        await patient.page.context.add_init_script(path=str(AXE))
        await patient.page.goto(world.site_url)
        frame = patient.page.frame_locator("iframe.carechat-widget")
        await expect(frame.get_by_role("button", name="Sign in")).to_be_visible(timeout=SLOW_MS)
        widget_frame = next(f for f in patient.page.frames if "/widget" in f.url)
        found[f"widget welcome {size}"] = serious(await axe(widget_frame))
        widget = await widget_sign_in(patient.page, world, ANNE.email, ANNE.passphrase)
        await widget_open_conversation(widget)
        widget_frame = next(f for f in patient.page.frames if "/widget" in f.url)
        found[f"widget conversation {size}"] = serious(await axe(widget_frame))

        doctor = await watch(viewport={"width": width, "height": height})
        await doctor.page.context.add_init_script(path=str(AXE))
        await doctor.page.goto(world.base_url + "/app")
        await expect(doctor.page.get_by_label("E-mail address")).to_be_visible()
        found[f"inbox sign-in {size}"] = serious(await axe(doctor.page))
        await inbox_sign_in(doctor.page, world, MARC.email, MARC.passphrase)
        await inbox_open_thread(doctor.page, thread_of(world, BRAM.email))
        found[f"inbox thread {size}"] = serious(await axe(doctor.page))
    failing = {page: v for page, v in found.items() if v}
    assert failing == {}, json.dumps(failing, indent=1)


# -- budgets (figures, not assertions) ------------------------------------------------------


def test_bundle_sizes(budgets: dict[str, Any]) -> None:
    manifest = json.loads((DEFAULT_BUILD_DIR / "manifest.json").read_text())
    load_manifest(DEFAULT_BUILD_DIR)  # the build holds together
    sizes = {}
    for logical, entry in manifest.items():
        data = (DEFAULT_BUILD_DIR / entry["file"]).read_bytes()
        sizes[logical] = {"bytes": len(data), "gzip": len(gzip.compress(data, 9))}
    assert "widget-loader.js" in sizes
    budgets["bundles"] = sizes


async def test_navigation_to_first_decrypted_message_and_a_long_thread(
    world: DemoWorld, watch: Callable[..., Awaitable[Watching]], budgets: dict[str, Any]
) -> None:
    # Anne's thread grows to LONG_THREAD messages, sealed by her SDK keys from the demo.
    thread_id = thread_of(world, ANNE.email)
    keystore = world.keyring().get(world.accounts[ANNE.email])
    assert keystore is not None
    async with CareChatClient(world.base_url) as anne:
        await anne.login(ANNE.email, PASSWORD)
        anne.use_keys(keystore)
        await anne.connect(history="new")
        for i in range((await anne.thread(thread_id)).last_seq + 1, LONG_THREAD + 1):
            await anne.send(thread_id, f"Reading {i}: 130/85")

    # A returning patient (keys already in this browser): the practice's site to the
    # first decrypted message of her conversation, which ends with the latest one.
    patient = await watch()
    widget = await widget_sign_in(patient.page, world, ANNE.email, ANNE.passphrase)
    await widget_open_conversation(widget)
    latest = widget_message(widget, f"Reading {LONG_THREAD}:")
    await expect(latest).to_be_visible(timeout=SLOW_MS)
    started = time.perf_counter()
    await patient.page.goto(world.site_url)
    await expect(widget.locator("li.w-msg").first).to_be_visible(timeout=SLOW_MS)
    budgets["navigation_to_first_decrypted_message_ms"] = round(
        (time.perf_counter() - started) * 1000
    )
    await expect(latest).to_be_visible(timeout=SLOW_MS)
    budgets["widget_navigation_to_latest_of_200_ms"] = round((time.perf_counter() - started) * 1000)

    # A returning practitioner opens it: the latest page first, then every earlier one.
    doctor = await watch()
    await inbox_sign_in(doctor.page, world, MARC.email, MARC.passphrase)
    started = time.perf_counter()
    await doctor.page.goto(world.base_url + "/app")
    await inbox_open_thread(doctor.page, thread_id)
    await expect(inbox_message(doctor.page, f"Reading {LONG_THREAD}:")).to_be_visible(
        timeout=SLOW_MS
    )
    latest_page = time.perf_counter() - started
    rendered = doctor.page.locator("li.message")
    first_page_count = await rendered.count()
    # The rest comes from the socket's sync or from "earlier" pages: whichever is first.
    earlier = doctor.page.get_by_role("button", name="Show earlier messages")
    async with asyncio.timeout(SLOW_MS / 1000):
        while await rendered.count() < LONG_THREAD:
            # It may be busy or re-rendered away under the click: try again next round.
            with contextlib.suppress(PlaywrightTimeoutError):
                if await earlier.is_enabled(timeout=500):
                    await earlier.click(timeout=1000)
            await doctor.page.wait_for_timeout(20)
    whole_thread = time.perf_counter() - started
    await expect(inbox_message(doctor.page, seeded_lines("anne")[0])).to_be_visible()
    budgets["long_thread_in_the_inbox"] = {
        "messages": LONG_THREAD,
        "navigation_to_latest_page_ms": round(latest_page * 1000),
        "latest_page_messages": first_page_count,
        "navigation_to_all_messages_ms": round(whole_thread * 1000),
    }
    budgets["browser"] = CHROMIUM
    # Figures from a busy machine mean little: say how busy it was.
    budgets["load_average_1min"] = round(os.getloadavg()[0], 1)
