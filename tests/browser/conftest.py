"""Browser tests: Debian's Chromium, driven by Playwright, against a real server.

- ``browser``: one Chromium for the session, launched from ``/usr/bin/chromium``
  (``scripts/bootstrap --browser`` installs it; ``playwright install`` is never run).
- ``carechat``: a real ``carechat serve`` process on the session's MongoDB and Redis,
  started once (about a second), with ``widget_embed_origins`` naming the first of two
  host sites below.
- ``allowed_site`` and ``foreign_site``: two tiny aiohttp servers on other ports (so
  other origins) serving a practice's page with the documented widget snippet; only
  the first may frame the widget.
- ``watched``: a fresh page whose console errors, uncaught exceptions and CSP
  violations fail the test, unless the test declared that exact refusal beforehand
  (and then it must happen).
- ``outbox``, ``people``, ``team``, ``moderator``: the served process's e-mails,
  people made through the SDK, a practice with its practitioner (care_team.py), and a
  platform admin who moderates (moderators.py).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from uuid import uuid4

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright
from pymongo import MongoClient

from chat_server.embedded.processes import free_port
from chat_server.rest.pages import widget_snippet
from chat_server.web_manifest import DEFAULT_BUILD_DIR, load_manifest
from tests.browser.care_team import CareTeam, People, care_team
from tests.browser.moderators import create_moderator
from tests.functional.command import Server, carechat_env
from tests.services import Services

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
SIZES: Final = {"desktop": (1280, 800), "phone": (375, 812)}
PRACTICE_ID: Final = "practice-demo"

# Reported by the page itself: CSP violations are events, not console messages.
_REPORT_VIOLATIONS: Final = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@dataclass(frozen=True, slots=True)
class Site:
    url: str

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")


@dataclass(slots=True)
class Watched:
    page: Page
    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect_error(self, pattern: str) -> None:
        """Declares one console error the test is about; it must then occur."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]

    def missing(self) -> list[str]:
        return [p.pattern for p in self.expected if not any(p.search(e) for e in self.errors)]

    async def screenshots(self, name: str) -> list[Path]:
        """The page at desktop and phone sizes, in test-output/screenshots/; the page
        is left at the size it had, so a test can go on after taking them."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        viewport = self.page.viewport_size
        taken = []
        try:
            for size, (width, height) in SIZES.items():
                await self.page.set_viewport_size({"width": width, "height": height})
                path = SCREENSHOTS / f"{name}-{size}.png"
                path.unlink(missing_ok=True)
                await self.page.screenshot(path=str(path), full_page=True)
                taken.append(path)
        finally:
            if viewport is not None:
                await self.page.set_viewport_size(viewport)
        return taken


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def _host_page(carechat_url: str) -> web.Application:
    """A practice's own site: a page with nothing but the documented snippet."""
    manifest = load_manifest(DEFAULT_BUILD_DIR)

    async def index(request: web.Request) -> web.Response:
        snippet = widget_snippet(carechat_url, PRACTICE_ID, manifest)
        body = (
            '<!doctype html><link rel="icon" href="data:,"><title>A practice</title>'
            f"<h1>Our practice</h1>{snippet}"
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    return app


@pytest.fixture(scope="session")
def carechat_port() -> int:
    return free_port()


async def _site(carechat_port: int) -> AsyncIterator[Site]:
    server = TestServer(_host_page(f"http://127.0.0.1:{carechat_port}"), host="127.0.0.1")
    await server.start_server()
    try:
        yield Site(str(server.make_url("/")))
    finally:
        await server.close()


@pytest.fixture(scope="session")
async def allowed_site(carechat_port: int) -> AsyncIterator[Site]:
    async for site in _site(carechat_port):
        yield site


@pytest.fixture(scope="session")
async def foreign_site(carechat_port: int) -> AsyncIterator[Site]:
    async for site in _site(carechat_port):
        yield site


@pytest.fixture(scope="session")
def carechat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served process's folder: its data directory (outbox) is ``data`` inside."""
    return tmp_path_factory.mktemp("browser-serve")


@pytest.fixture(scope="session")
def carechat_db_name() -> str:
    """The MongoDB database of the served process (tests may play a hostile server)."""
    return f"browser_{uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def carechat(
    services: Services,
    carechat_dir: Path,
    carechat_db_name: str,
    carechat_port: int,
    allowed_site: Site,
) -> Iterator[str]:
    """The base URL of a real ``carechat serve``; its database is dropped afterwards."""
    data_dir = carechat_dir
    db_name = carechat_db_name
    env = carechat_env(
        data_dir / "data",
        carechat_port,
        mongodb_uri=services.mongo.uri,
        mongodb_db=db_name,
        redis_url=services.redis.url,
        redis_prefix=f"b{uuid4().hex[:12]}:",
        server_secret=secrets.token_urlsafe(32),
        widget_embed_origins=allowed_site.origin,
        # SDK clients in the tests name their own address (X-Forwarded-For), so that
        # the per-address limits (10 registrations an hour) count each person apart.
        trusted_proxies="127.0.0.1",
    )
    server = Server(env, data_dir / "serve.log")
    try:
        server.wait_ready()
        yield f"http://127.0.0.1:{carechat_port}"
    finally:
        server.kill()
        client: MongoClient[dict[str, object]] = MongoClient(services.mongo.uri)
        with client:
            client.drop_database(db_name)


@contextlib.asynccontextmanager
async def watched_browser(browser: Browser) -> AsyncIterator[Watched]:
    """A separate browser profile (its own storage) whose console errors and CSP
    violations fail the test, as do expected refusals that did not happen."""
    width, height = SIZES["desktop"]
    context = await browser.new_context(viewport={"width": width, "height": height})
    await context.add_init_script(_REPORT_VIOLATIONS)
    page = await context.new_page()
    watch = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watch.errors.append(f"{message.text} at {message.location.get('url', '?')}")

    def on_page_error(error: Error) -> None:
        watch.errors.append(f"uncaught: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    try:
        yield watch
    finally:
        await context.close()
    assert watch.unexpected() == [], "console errors or CSP violations"
    assert watch.missing() == [], "expected refusals that did not happen"


@pytest.fixture
async def watched(browser: Browser) -> AsyncIterator[Watched]:
    async with watched_browser(browser) as watch:
        yield watch


@pytest.fixture
async def second(browser: Browser) -> AsyncIterator[Watched]:
    """Another person's browser, watched like ``watched``."""
    async with watched_browser(browser) as watch:
        yield watch


@pytest.fixture
def outbox(carechat_dir: Path) -> Path:
    """The e-mails the served process wrote."""
    return carechat_dir / "data" / "outbox"


@pytest.fixture
async def people(carechat: str, outbox: Path) -> AsyncIterator[People]:
    """People made through the SDK on the served process (their keys in memory)."""
    crowd = People(carechat, outbox)
    yield crowd
    await crowd.close()


@pytest.fixture
async def team(people: People, services: Services, carechat_db_name: str) -> CareTeam:
    """A practice with its admin and a practitioner, made on the served process."""
    return await care_team(people, services.mongo.uri, carechat_db_name)


@pytest.fixture
async def moderator(services: Services, carechat_db_name: str) -> str:
    """A platform admin's e-mail address (as ``carechat admin create-admin`` makes one)."""
    return await create_moderator(services.mongo.uri, carechat_db_name)
