"""The browser client library (web/src/client) in Chromium against a real server.

The library is driven through a test-only script, tests/browser/harness.mjs: bundled
here, served by Playwright's request routing at a path on the CareChat origin and
added to the real /app page, so it runs under that page's Content-Security-Policy. No
production page or route exposes the library.

A patient and a practitioner, each in their own browser context, create their keys in
the page, open a care thread (the patient signs its opening), exchange messages (a
typed payload too), read receipts, typing and an attachment through the library; the
patient's socket drops and an unacknowledged message is resent with its id; a third
context restores the patient's keys from the recovery passphrase and reads the
history; an envelope tampered with in MongoDB shows as verified: false.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from uuid import uuid4

import aiohttp
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Request,
    Route,
    WebSocket,
)
from pymongo import AsyncMongoClient, MongoClient

from chat_server.embedded.processes import free_port
from e2e_crypto.envelope import seal_message
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import PublicSigningKey, verify_device_certificate
from e2e_crypto.socket_proof import sign_socket_proof
from e2e_crypto.socket_proof_public import verify_socket_proof
from e2e_crypto.wire import from_base64url, to_base64url
from tests.actors import PASSWORD, register
from tests.browser.canary import scan_mongodb, scan_redis
from tests.browser.conftest import _REPORT_VIOLATIONS, SIZES, Site
from tests.functional.command import Server, carechat_env
from tests.servers import FileOutboxReader, UrlClient
from tests.services import Services

ROOT: Final = Path(__file__).resolve().parents[2]
HARNESS: Final = "/__library_test__"
PASSPHRASE: Final = "seven tidy lanterns glow at dusk"
CANARY: Final = "canary-7f3a9e bonjour docteur"


@pytest.fixture(scope="session")
def harness_js(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("harness") / "harness.js"
    subprocess.run(
        [
            str(ROOT / "node_modules" / ".bin" / "esbuild"),
            str(Path(__file__).with_name("harness.mjs")),
            "--bundle",
            "--format=esm",
            "--target=es2022",
            "--log-level=warning",
            f"--outfile={out}",
        ],
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return out.read_bytes()


class Watch:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected: list[re.Pattern[str]] = []

    def expect(self, pattern: str) -> None:
        """A console error the test causes on purpose (Chromium logs failed requests)."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error.message}")


class Contexts:
    """Browser contexts (separate profiles: cookies, IndexedDB) on the harness page."""

    def __init__(self, browser: Browser, carechat: str, harness_js: bytes) -> None:
        self.browser = browser
        self.carechat = carechat
        self.harness_js = harness_js
        self.watch = Watch()
        self.contexts: list[BrowserContext] = []
        # Every request body and socket frame the pages sent: what the server was given.
        self.sent: list[bytes] = []

    async def page(self, locale: str = "en-GB") -> Page:
        width, height = SIZES["desktop"]
        # Each browser is its own address to the server's per-address limits.
        address = (
            f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
        )
        context = await self.browser.new_context(
            viewport={"width": width, "height": height},
            locale=locale,
            extra_http_headers={"X-Forwarded-For": address},
        )
        self.contexts.append(context)
        await context.add_init_script(_REPORT_VIOLATIONS)
        await context.route(f"{self.carechat}{HARNESS}", self._serve)
        page = await context.new_page()
        page.on("console", self.watch.console)
        page.on("pageerror", self.watch.page_error)
        page.on("request", self._request)
        page.on("websocket", self._socket)
        # A real page from the server, under its real CSP (the document must come from
        # the loopback server itself: Chromium's local-network checks block a socket
        # from a document Playwright fulfilled), with the harness script added to it.
        await page.goto(self.carechat + "/app")
        await page.add_script_tag(url=HARNESS, type="module")
        await page.wait_for_function("() => window.carechat !== undefined")
        return page

    def _request(self, request: Request) -> None:
        self.sent.append(request.url.encode() + b"\n" + (request.post_data_buffer or b""))

    def _socket(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda frame: self.sent.append(_frame_bytes(frame)))

    async def _serve(self, route: Route) -> None:
        await route.fulfill(status=200, body=self.harness_js, content_type="text/javascript")

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


def _frame_bytes(frame: str | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.encode()


@pytest.fixture
async def contexts(browser: Browser, carechat: str, harness_js: bytes) -> AsyncIterator[Contexts]:
    made = Contexts(browser, carechat, harness_js)
    try:
        yield made
    finally:
        await made.close()
    assert made.watch.unexpected() == [], "console errors or CSP violations"


async def verified_account(carechat: str, carechat_dir: Path, email: str, role: str) -> str:
    address = f"10.251.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    async with aiohttp.ClientSession(headers={"X-Forwarded-For": address}) as http:
        return await register(
            UrlClient(http, carechat), FileOutboxReader(carechat_dir / "data"), email, role
        )


async def run(page: Page, script: str, arg: Any = None) -> Any:
    try:
        async with asyncio.timeout(30):
            return await page.evaluate(script, arg)
    except TimeoutError:
        events = await page.evaluate("() => JSON.stringify(window.events.slice(-20))")
        raise AssertionError(f"timed out; last events: {events}") from None


async def wait_event(page: Page, predicate: str) -> Any:
    """The detail of the first recorded event matching ``predicate`` (JS on ``e``)."""
    handle = await page.wait_for_function(
        f"() => window.events.find((e) => {predicate})?.detail ?? null", timeout=15_000
    )
    return await handle.json_value()


async def matching(page: Page, predicate: str) -> list[Any]:
    """The details of every recorded event matching ``predicate``."""
    found: list[Any] = await run(
        page, f"() => window.events.filter((e) => {predicate}).map((e) => e.detail)"
    )
    return found


def about(client_msg_id: str, kind: str = "message") -> str:
    return f"e.type === {kind!r} && e.detail.clientMsgId === {client_msg_id!r}"


async def test_language_follows_the_browser_then_the_choice_and_text_stays_text(
    contexts: Contexts,
) -> None:
    page = await contexts.page(locale="nl-BE")
    assert await run(page, "() => ui.i18n.language()") == "nl"
    assert await run(page, "() => ui.i18n.t('status.read')") == "Gelezen"
    assert await run(page, "() => document.documentElement.lang") == "nl"
    # A key missing from the catalog shows itself rather than a blank.
    assert await run(page, "() => ui.i18n.t('no.such.key')") == "no.such.key"
    await run(page, "() => ui.i18n.setLanguage('fr')")
    await page.reload()
    await page.add_script_tag(url=HARNESS, type="module")
    await page.wait_for_function("() => window.ui !== undefined")
    assert await run(page, "() => ui.i18n.language()") == "fr"
    assert await run(page, "() => ui.i18n.t('status.read')") == "Lu"
    # Only the language code is stored.
    assert await run(page, "() => Object.keys(localStorage)") == ["carechat.language"]
    # h() puts text in as text, whatever it looks like, and wires listeners.
    built = await run(
        page,
        """() => {
          let clicked = 0;
          const el = ui.dom.h("button", {type: "button", onclick: () => clicked++,
            dataset: {id: "x"}, disabled: false}, "<img src=x onerror=alert(1)>", 2);
          el.click();
          return [el.innerHTML, el.dataset.id, el.disabled, clicked];
        }""",
    )
    assert built == ["&lt;img src=x onerror=alert(1)&gt;2", "x", False, 1]


SIGN_IN: Final = """async ({email, password}) => {
  window.client = await carechat.CareChatClient.open();
  record(window.client);
  await client.login(email, password);
  return client.accountId;
}"""


@dataclass
class Talk:
    patient_page: Page
    doctor_page: Page
    patient_email: str
    patient_id: str
    practitioner_id: str
    thread_id: str


async def talking(contexts: Contexts, carechat: str, carechat_dir: Path) -> Talk:
    """A patient (signed up in the page) and a practitioner, each in a browser with keys
    made there, in an accepted care thread, both connected."""
    suffix = uuid4().hex[:8]
    patient_email, doctor_email = f"pat.{suffix}@example.org", f"dr.{suffix}@example.org"
    practitioner_id = await verified_account(carechat, carechat_dir, doctor_email, "practitioner")
    patient_page = await contexts.page()
    doctor_page = await contexts.page()

    # The patient signs up in the page; the link's token comes from the outbox.
    await run(
        patient_page,
        """async ({email, password}) => {
          window.client = await carechat.CareChatClient.open();
          record(window.client);
          await client.register({email, password, displayName: "Pat", role: "patient"});
        }""",
        {"email": patient_email, "password": PASSWORD},
    )
    token = (
        FileOutboxReader(carechat_dir / "data")
        .last_to(patient_email)
        .body.split("/verify#", 1)[1]
        .split()[0]
    )
    patient_id = await run(
        patient_page,
        """async ({token, email, password, passphrase}) => {
          await client.verifyEmail(token, password);
          await client.login(email, password);
          await client.createKeys();
          await client.backupKeys(passphrase);
          return client.accountId;
        }""",
        {
            "token": token,
            "email": patient_email,
            "password": PASSWORD,
            "passphrase": PASSPHRASE,
        },
    )
    assert await run(patient_page, "() => client.hasKeys") is True

    await run(
        doctor_page,
        SIGN_IN,
        {"email": doctor_email, "password": PASSWORD},
    )
    await run(doctor_page, "() => client.createKeys()")

    # Care link, then a thread whose opening the patient's root key signs.
    link = await run(
        patient_page,
        "(id) => client.requestCareLink({kind: 'practitioner', id})",
        practitioner_id,
    )
    await run(doctor_page, "(id) => client.answerCareLink(id, true)", link["care_link_id"])
    thread_id = await run(
        patient_page,
        "async (id) => (await client.startThread({kind: 'practitioner', id})).threadId",
        practitioner_id,
    )
    threads = await run(doctor_page, "() => client.threads()")
    assert [t["threadId"] for t in threads] == [thread_id]
    assert threads[0]["state"] == "requested"
    await run(patient_page, "() => client.connect()")
    await run(doctor_page, "(t) => client.threadAction(t, 'accept')", thread_id)
    # The patient's library learns the new state live, as a ThreadSummary.
    opened = await wait_event(
        patient_page, f"e.type === 'thread' && e.detail.threadId === {thread_id!r}"
    )
    assert (opened["state"], opened["patientId"]) == ("open", patient_id)
    # The practitioner's library checked the opening against the patient's root key.
    participants = await run(doctor_page, "(t) => client.participants(t)", thread_id)
    assert {p["accountId"]: p["role"] for p in participants} == {
        patient_id: "patient",
        practitioner_id: "practitioner",
    }

    await run(doctor_page, "() => client.connect()")
    await wait_event(patient_page, "e.type === 'connection' && e.detail.state === 'online'")

    return Talk(patient_page, doctor_page, patient_email, patient_id, practitioner_id, thread_id)


async def test_two_browsers_talk_restore_reads_history_and_tampering_shows(
    contexts: Contexts,
    carechat: str,
    carechat_dir: Path,
    carechat_db_name: str,
    services: Services,
) -> None:
    talk = await talking(contexts, carechat, carechat_dir)
    patient_page, doctor_page = talk.patient_page, talk.doctor_page
    patient_id, practitioner_id, thread_id = talk.patient_id, talk.practitioner_id, talk.thread_id

    # Patient -> practitioner: pending, then sent; the practitioner decrypts it.
    sent = await run(
        patient_page,
        "async ([t, text]) => {"
        "  const r = await client.send(t, text); return [r.clientMsgId, await r.sent];"
        "}",
        [thread_id, CANARY],
    )
    client_msg_id, seq = sent
    received = await wait_event(doctor_page, about(client_msg_id))
    assert received["verified"] is True
    assert received["payload"] == {"t": "text", "body": CANARY}
    assert received["sender"]["account"] == patient_id
    assert received["seq"] == seq
    # The practitioner's library acknowledged it: the patient's turns "delivered".
    delivered = await wait_event(
        patient_page, about(client_msg_id, "status") + " && e.detail.status === 'delivered'"
    )
    assert delivered["seq"] == seq
    statuses = await matching(patient_page, about(client_msg_id, "status"))
    assert [s["status"] for s in statuses] == ["pending", "sent", "delivered"]

    # Typing and a read receipt: the patient's message turns "read".
    await run(doctor_page, "(t) => client.typing(t)", thread_id)
    await wait_event(
        patient_page, f"e.type === 'typing' && e.detail.account === {practitioner_id!r}"
    )
    await run(doctor_page, "([t, s]) => client.read(t, s)", [thread_id, seq])
    read = await wait_event(
        patient_page, about(client_msg_id, "status") + " && e.detail.status === 'read'"
    )
    assert read["seq"] == seq

    # Practitioner -> patient, a typed payload.
    renewal = {"t": "closing_summary", "summary": "Rest and fluids", "follow_up": None}
    await run(doctor_page, "([t, p]) => client.send(t, p)", [thread_id, renewal])
    got = await wait_event(patient_page, "e.type === 'message' && !e.detail.mine")
    assert got["payload"] == renewal
    assert got["verified"] is True

    # An attachment, encrypted in the page with progress, checked on download.
    attachment = await run(
        patient_page,
        """async (t) => {
          const bytes = new Uint8Array(150000).map((_, i) => i % 251);
          const progress = [];
          const r = await client.sendAttachment(t, new Blob([bytes], {type: "application/pdf"}),
            {name: "scan.pdf", onProgress: (p) => progress.push(p.phase)});
          await r.sent;
          return {attachment: r.attachment, phases: [...new Set(progress)]};
        }""",
        thread_id,
    )
    assert attachment["phases"] == ["encrypting", "uploading"]
    assert attachment["attachment"]["size"] == 150000
    downloaded = await run(
        doctor_page,
        """async (id) => {
          const m = await new Promise((resolve) => {
            const found = () => window.events.find(
              (e) => e.type === 'message' && e.detail.payload?.t === 'attachment');
            const tick = () => (found() ? resolve(found().detail) : setTimeout(tick, 50));
            tick();
          });
          const blob = await client.downloadAttachment(m.payload);
          const bytes = new Uint8Array(await blob.arrayBuffer());
          const tampered = {...m.payload, digest: m.payload.key};
          let refused = null;
          try { await client.downloadAttachment(tampered); } catch (e) { refused = e.name; }
          const ok = bytes.every((b, i) => b === i % 251);
          return {size: bytes.length, ok, type: blob.type, refused};
        }""",
        thread_id,
    )
    assert downloaded == {
        "size": 150000,
        "ok": True,
        "type": "application/pdf",
        "refused": "AttachmentCorrupted",
    }

    # The patient's socket drops; a message sent meanwhile waits, is resent with the
    # same client_msg_id after the reconnect, and arrives once.
    offline_id = await run(
        patient_page,
        """async (t) => {
          client.socket.ws.close();
          const r = await client.send(t, "sent while offline");
          await r.sent;
          return r.clientMsgId;
        }""",
        thread_id,
    )
    await wait_event(doctor_page, about(offline_id))
    assert await run(patient_page, "() => client.socket.connects") == 2
    await wait_event(
        patient_page, about(offline_id, "status") + " && e.detail.status === 'delivered'"
    )
    offline_statuses = await matching(patient_page, about(offline_id, "status"))
    assert [s["status"] for s in offline_statuses] == ["pending", "sent", "delivered"]
    assert len(await matching(doctor_page, about(offline_id))) == 1

    # A hostile server (or database) alters one stored envelope.
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri)
    try:
        messages = mongo[carechat_db_name]["messages"]
        stored = await messages.find_one({"thread": thread_id, "seq": seq})
        assert stored is not None
        assert CANARY.encode() not in bytes(stored["envelope"])
        envelope = bytearray(stored["envelope"])
        envelope[-100] ^= 1
        await messages.update_one({"_id": stored["_id"]}, {"$set": {"envelope": bytes(envelope)}})
    finally:
        await mongo.close()

    # A new browser: the passphrase restores the keys; the history reads, except the
    # tampered envelope, which is "could not be verified" and never text.
    third = await contexts.page()
    await run(third, SIGN_IN, {"email": talk.patient_email, "password": PASSWORD})
    assert await run(third, "() => client.hasKeys") is False
    history = await run(
        third,
        """async ([t, passphrase]) => {
          await client.restoreKeys(passphrase);
          return (await client.history(t)).messages;
        }""",
        [thread_id, PASSPHRASE],
    )
    by_id = {m["clientMsgId"]: m for m in history}
    assert by_id[client_msg_id]["verified"] is False
    assert by_id[client_msg_id]["payload"] is None
    readable = [m["payload"] for m in history if m["verified"]]
    assert renewal in readable
    assert {"t": "text", "body": "sent while offline"} in readable
    assert any(p["t"] == "attachment" for p in readable)
    assert len(history) == 4
    # A server that stores an old envelope again at a new seq: it verifies (the
    # signature covers the header, not the seq), and the library drops it.
    replay = await run(
        third,
        """async (t) => {
          const page = await client.api.messages(t, {after: 0});
          const original = internals.sealedFromJson(page.messages[1]);
          const replayed = {...original, seq: page.messages.length + 1};
          return [await client.socket.open(replayed), (await client.socket.open(original))];
        }""",
        thread_id,
    )
    assert replay == [None, None]  # history() saw the original: shown once, ever
    fresh = await run(
        third,
        """async (t) => {
          const page = await client.api.messages(t, {after: 0});
          const other = await carechat.CareChatClient.open();
          const original = internals.sealedFromJson(page.messages[1]);
          const first = await other.socket.open(original);
          const again = await other.socket.open({...original, seq: 77});
          return [first.verified, first.payload, again];
        }""",
        thread_id,
    )
    assert fresh == [True, renewal, None]
    prefs = await run(
        third,
        """async () => [await client.notificationPreferences(),
          await client.setNotificationPreferences({email: false, sms: true}),
          await client.notificationPreferences()]""",
    )
    assert prefs == [
        {"email": True, "sms": True},
        {"email": False, "sms": True},
        {"email": False, "sms": True},
    ]
    devices = await run(third, "() => client.devices()")
    assert len(devices) == 2
    assert [d["current"] for d in devices].count(True) == 1
    # Both ends compute the same safety number from their pinned root keys.
    assert await run(third, "(id) => client.safetyNumber(id)", practitioner_id) == await run(
        doctor_page, "(id) => client.safetyNumber(id)", patient_id
    )

    # The restored browser is a new device of the patient's: the first page's cached
    # device list is stale, the server answers recipients_changed, the library
    # re-encrypts for the current devices (same client_msg_id), and the new device reads
    # it live.
    await run(third, "() => client.connect()")
    after_restore = await run(
        patient_page,
        "async (t) => { const r = await client.send(t, 'after the restore');"
        " await r.sent; return r.clientMsgId; }",
        thread_id,
    )
    live = await wait_event(third, about(after_restore))
    assert live["verified"] is True
    assert live["mine"] is True
    assert live["payload"] == {"t": "text", "body": "after the restore"}
    assert len(await matching(doctor_page, about(after_restore))) == 1

    # Two tabs of one account: a tab saving its state keeps the pins the other saved.
    kept = await run(
        third,
        """async () => {
          const other = await carechat.CareChatClient.open();
          const parties = [client.accountId, "practice", "some-practice"];
          client.keystore.pinThread("pinned-in-tab-one", parties);
          await client.keystore.save();
          await other.keystore.save();  // holds no such pin
          const reloaded = await carechat.CareChatClient.open();
          return reloaded.keystore.threadPin("pinned-in-tab-one");
        }""",
    )
    assert kept == [patient_id, "practice", "some-practice"]

    # Signing out of a shared computer: this browser's device is revoked, its keys gone.
    await run(third, "() => client.logout({forgetKeys: true})")
    reopened = await run(
        third,
        "async () => { const c = await carechat.CareChatClient.open();"
        " return [c.accountId, c.hasKeys]; }",
    )
    assert reopened == [None, False]
    remaining = await run(patient_page, "() => client.devices()")
    assert [d["current"] for d in remaining] == [True]


@pytest.fixture
def restartable(services: Services, tmp_path: Path, allowed_site: Site) -> Iterator[Restartable]:
    """A ``carechat serve`` of this test's own (its own port and database), which the
    test stops and starts again on the same port, data and secret."""
    yield from _own_server(services, tmp_path, allowed_site)


FLOOD_BAR: Final = 4.0


@pytest.fixture
def tight(services: Services, tmp_path: Path, allowed_site: Site) -> Iterator[Restartable]:
    """A server of this test's own whose send budget and flood rule are small."""
    yield from _own_server(
        services,
        tmp_path,
        allowed_site,
        send_limit_per_device="20",
        ws_flood_refusals="5",
        ws_flood_bar_seconds=str(FLOOD_BAR),
        # The refusals must come from the Redis limiter however loaded the machine.
        send_limit_wait_ms="10000",
    )


def _own_server(
    services: Services, tmp_path: Path, allowed_site: Site, **settings: str
) -> Iterator[Restartable]:
    port = free_port()
    db_name = f"browser_{uuid4().hex[:12]}"
    env = carechat_env(
        tmp_path / "data",
        port,
        mongodb_uri=services.mongo.uri,
        mongodb_db=db_name,
        redis_url=services.redis.url,
        redis_prefix=f"b{uuid4().hex[:12]}:",
        server_secret=secrets.token_urlsafe(32),
        widget_embed_origins=allowed_site.origin,
        trusted_proxies="127.0.0.1",
        **settings,
    )
    served = Restartable(env, tmp_path)
    try:
        yield served
    finally:
        served.server.kill()
        client: MongoClient[dict[str, object]] = MongoClient(services.mongo.uri)
        with client:
            client.drop_database(db_name)


class Restartable:
    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.url = f"http://127.0.0.1:{env['CARECHAT_PORT']}"
        self.starts = 0
        self.server = self._start()

    def _start(self) -> Server:
        self.starts += 1
        server = Server(self.env, self.folder / f"serve-{self.starts}.log")
        server.wait_ready()
        return server

    async def restart(self, while_down: Callable[[], Awaitable[None]]) -> None:
        await asyncio.to_thread(self.server.stop)
        self.server.kill()
        await while_down()
        self.server = await asyncio.to_thread(self._start)


async def test_a_server_restart_loses_nothing_and_resends_with_the_same_id(
    contexts: Contexts, restartable: Restartable
) -> None:
    contexts.carechat = restartable.url
    talk = await talking(contexts, restartable.url, restartable.folder)
    before = await run(
        talk.patient_page,
        "async (t) => { const r = await client.send(t, 'before'); await r.sent;"
        " return r.clientMsgId; }",
        talk.thread_id,
    )
    # While the server is down, Chromium logs each refused ticket request and socket.
    contexts.watch.expect(r"net::ERR_CONNECTION_REFUSED")
    contexts.watch.expect(r"WebSocket connection to .* failed")
    await wait_event(talk.doctor_page, about(before))
    queued: dict[str, str] = {}

    async def while_down() -> None:
        for page in (talk.patient_page, talk.doctor_page):
            await wait_event(page, "e.type === 'connection' && e.detail.state === 'offline'")
        # Written while the server is down: sealed and queued, sent after the restart.
        queued["patient"] = await run(
            talk.patient_page,
            "async (t) => (await client.send(t, 'during the restart')).clientMsgId",
            talk.thread_id,
        )
        queued["doctor"] = await run(
            talk.doctor_page,
            "async (t) => (await client.send(t, 'also during it')).clientMsgId",
            talk.thread_id,
        )

    await restartable.restart(while_down)
    got = await wait_event(talk.doctor_page, about(queued["patient"]))
    assert got["payload"] == {"t": "text", "body": "during the restart"}
    back = await wait_event(talk.patient_page, about(queued["doctor"]))
    assert back["payload"] == {"t": "text", "body": "also during it"}
    for page, mine, theirs in (
        (talk.patient_page, queued["patient"], queued["doctor"]),
        (talk.doctor_page, queued["doctor"], queued["patient"]),
    ):
        await wait_event(page, about(mine, "status") + " && e.detail.status === 'sent'")
        assert len(await matching(page, about(theirs))) == 1
        assert await run(page, "() => client.socket.connects") >= 2
    # The one server-side copy of each: resent with the same id, never stored twice.
    history = await run(
        talk.patient_page,
        "async (t) => (await client.history(t)).messages.map((m) => m.payload.body)",
        talk.thread_id,
    )
    assert sorted(history) == sorted(["before", "during the restart", "also during it"])


async def test_the_browser_proves_its_device_key_and_a_stolen_token_still_cannot_send(
    contexts: Contexts, carechat: str, carechat_dir: Path
) -> None:
    """ADR 0004 in the browser: ``hello`` carries the device's signature over its
    ticket, so the server trusts that socket with its sends' signatures; a thief with
    the session token but not the device key gets no proven socket, and an unproven
    one has each send's signature checked."""
    talk = await talking(contexts, carechat, carechat_dir)
    page = talk.patient_page
    sent_frames: list[str | bytes] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: sent_frames.append(payload))

    page.on("websocket", watch)
    await run(page, "() => client.socket.ws.close()")
    await page.wait_for_function("() => client.socket.connects === 2 && client.socket.ws")
    await wait_event(page, "e.type === 'connection' && e.detail.state === 'online'")
    hellos = [f for f in map(json.loads, sent_frames) if f.get("type") == "hello"]
    assert len(hellos) == 1
    me = await run(
        page,
        "() => ({account: client.accountId, device: client.keystore.deviceId, token:"
        " client.api.token, signing: Array.from(client.keystore.device.signingKey),"
        " root: Array.from(client.keystore.root.publicKey)})",
    )
    # The proof is the device's signature over this socket's ticket, and the server
    # took it (a bad proof closes the socket with 4001 before any welcome).
    verify_socket_proof(
        PublicSigningKey(bytes(me["signing"])),
        from_base64url(hellos[0]["proof"]),
        account_id=me["account"],
        device_id=me["device"],
        ticket=hellos[0]["ticket"],
    )
    proven = await run(
        page,
        "async (t) => { const r = await client.send(t, 'over a proven socket');"
        " await r.sent; return r.clientMsgId; }",
        talk.thread_id,
    )
    assert (await wait_event(talk.doctor_page, about(proven)))["verified"] is True

    # The thief has the page's session token (so tickets for its device), not its key.
    doctor_root = await run(talk.doctor_page, "() => Array.from(client.keystore.root.publicKey)")
    roots = {
        me["account"]: PublicSigningKey(bytes(me["root"])),
        talk.practitioner_id: PublicSigningKey(bytes(doctor_root)),
    }
    impostor = DeviceKeys.generate(me["account"], me["device"])
    headers = {"Authorization": f"Bearer {me['token']}", "X-Forwarded-For": "10.252.0.9"}
    async with aiohttp.ClientSession(carechat, headers=headers) as http:

        async def ticket() -> str:
            async with http.post("/api/v1/ws-tickets", json={"device_id": me["device"]}) as r:
                assert r.status == 201, await r.text()
                return str((await r.json())["ticket"])

        async with http.ws_connect("/ws") as ws:
            stolen = await ticket()
            proof = to_base64url(sign_socket_proof(impostor, stolen))
            await ws.send_json({"type": "hello", "ticket": stolen, "proof": proof})
            assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4001
        devices = []
        for account_id, root in roots.items():
            async with http.get(f"/api/v1/accounts/{account_id}/devices") as r:
                for entry in (await r.json())["devices"]:
                    certificate = from_base64url(entry["certificate"])
                    devices.append(
                        verify_device_certificate(certificate, account_id=account_id, root_key=root)
                    )
        async with http.ws_connect("/ws") as ws:
            await ws.send_json({"type": "hello", "ticket": await ticket()})
            assert (await ws.receive_json())["type"] == "welcome"
            cmid = uuid4().hex
            envelope = seal_message(
                impostor,
                thread_id=talk.thread_id,
                client_msg_id=cmid,
                body=b"forged",
                to_devices=devices,
            )
            send = {"type": "send", "thread": talk.thread_id, "client_msg_id": cmid}
            await ws.send_json({**send, "envelope": to_base64url(envelope)})
            answer = await ws.receive_json()
            while answer["type"] != "error":  # the thread's live frames come first
                answer = await ws.receive_json()
            assert answer["code"] == "invalid_envelope"
    history = await run(
        page,
        "async (t) => (await client.history(t)).messages.map((m) => m.clientMsgId)",
        talk.thread_id,
    )
    assert proven in history
    assert cmid not in history


async def test_a_flooding_page_waits_out_its_close_and_resends_without_loss(
    tight: Restartable,
    contexts: Contexts,  # after the server: closed before it stops
) -> None:
    """Far past its budget, the page's socket is closed with 4029: the library waits
    the close's retry_after (not its back-off), reconnects and resends what was never
    acknowledged; every send ends acknowledged once or refused, none stored twice."""
    contexts.carechat = tight.url
    talk = await talking(contexts, tight.url, tight.folder)
    outcomes = await run(
        talk.patient_page,
        """async (t) => {
          const sends = [];
          for (let i = 0; i < 40; i++) sends.push(await client.send(t, `flood ${i}`));
          return Promise.all(sends.map((r) => r.sent.then(
            (seq) => ({id: r.clientMsgId, seq}),
            (error) => ({id: r.clientMsgId, code: error.code}))));
        }""",
        talk.thread_id,
    )
    acked = {o["id"]: o["seq"] for o in outcomes if "seq" in o}
    refused = [o["code"] for o in outcomes if "seq" not in o]
    assert set(refused) <= {"rate_limited"}
    assert len(acked) + len(refused) == 40
    assert len(set(acked.values())) == len(acked)  # each at one position
    waits = await matching(
        talk.patient_page, "e.type === 'connection' && e.detail.retryInMs !== undefined"
    )
    assert waits, "the socket was never closed"
    # The close's wait, not the back-off's 0.2 s (a ticket asked a little early would be
    # refused with the time left, a shorter wait).
    assert max(w["retryInMs"] for w in waits) == round(FLOOD_BAR * 1000)
    assert await run(talk.patient_page, "() => client.socket.connects") >= 2
    # The server stored exactly the acknowledged ones; the doctor got each once.
    history = await run(
        talk.patient_page,
        "async (t) => (await client.history(t)).messages.map((m) => m.clientMsgId)",
        talk.thread_id,
    )
    assert sorted(history) == sorted(acked)
    for client_msg_id in acked:
        await wait_event(talk.doctor_page, about(client_msg_id))
        assert len(await matching(talk.doctor_page, about(client_msg_id))) == 1


# The page's secrets, in hex: the account's root key and this device's keys.
PAGE_SECRETS: Final = """() => {
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const {root, device} = client.keystore;
  return {
    root_seed: hex(root.seed), root_private: hex(root._secret),
    encryption_secret: hex(device.encryptionSecret), signing_seed: hex(device.signingSeed),
    signing_private: hex(device._secret),
  };
}"""

# What IndexedDB holds, read as any script of the page could: the wrapping key's
# properties and whether it exports, each other record's fields and bytes, and the
# account's record opened with the wrapping key (its name is the associated data).
STORED: Final = """async () => {
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const ask = (request) => new Promise((ok, fail) => {
    request.onsuccess = () => ok(request.result);
    request.onerror = () => fail(request.error);
  });
  const db = await ask(indexedDB.open("carechat"));
  const store = db.transaction("kv").objectStore("kv");
  const [names, values] = [await ask(store.getAllKeys()), await ask(store.getAll())];
  db.close();
  const wrapping = values[names.indexOf("wrapping-key")];
  let exported;
  try {
    await crypto.subtle.exportKey("raw", wrapping);
    exported = "exported";
  } catch (error) {
    exported = error.name;
  }
  const records = {};
  names.forEach((name, i) => {
    if (name !== "wrapping-key") {
      const value = values[i];
      const bytes = hex(value.iv) + hex(new Uint8Array(value.data));
      records[name] = {fields: Object.keys(value).sort(), bytes};
    }
  });
  const name = `account:${client.accountId}`;
  const sealed = values[names.indexOf(name)];
  const opening = {name: "AES-GCM", iv: sealed.iv, additionalData: new TextEncoder().encode(name)};
  const plain = await crypto.subtle.decrypt(opening, wrapping, sealed.data);
  return {
    wrapping: {
      isCryptoKey: wrapping instanceof CryptoKey, extractable: wrapping.extractable,
      algorithm: wrapping.algorithm.name, usages: [...wrapping.usages].sort(),
    },
    exported,
    records,
    rootSeed: JSON.parse(new TextDecoder().decode(plain)).root_seed,
    elsewhere: [...Object.keys(localStorage), ...Object.keys(sessionStorage), document.cookie],
  };
}"""


def encodings(secret: bytes) -> list[bytes]:
    """The forms a key could leak in: raw, hex, base64url (the wire's) and base64."""
    return [
        secret,
        secret.hex().encode(),
        to_base64url(secret).encode(),
        base64.b64encode(secret).rstrip(b"="),
    ]


async def test_keys_stay_in_the_page_sealed_under_a_key_no_script_can_export(
    restartable: Restartable,
    contexts: Contexts,  # after the server: closed before it stops
) -> None:
    """Issue 14, point 2: the keys are made in the page and kept in IndexedDB encrypted
    under a non-extractable WebCrypto key (page script can use it, never read it
    out); no private key, seed or the recovery passphrase ever leaves the page: not in
    a request or socket frame it sent, nor in MongoDB, Redis or the server's logs."""
    contexts.carechat = restartable.url
    talk = await talking(contexts, restartable.url, restartable.folder)
    # The keys at work: a message each way, signed and opened in the pages.
    for page, text in ((talk.patient_page, "from the patient"), (talk.doctor_page, "and back")):
        await run(
            page,
            "async ([t, text]) => { const r = await client.send(t, text); await r.sent; }",
            [talk.thread_id, text],
        )
    await wait_event(talk.patient_page, "e.type === 'message' && !e.detail.mine")

    needles = {"passphrase": [PASSPHRASE.encode()]}
    for side, page, account_id in (
        ("patient", talk.patient_page, talk.patient_id),
        ("practitioner", talk.doctor_page, talk.practitioner_id),
    ):
        page_secrets = {k: bytes.fromhex(v) for k, v in (await run(page, PAGE_SECRETS)).items()}
        stored = await run(page, STORED)
        assert stored["wrapping"] == {
            "isCryptoKey": True,
            "extractable": False,
            "algorithm": "AES-GCM",
            "usages": ["decrypt", "encrypt"],
        }
        assert stored["exported"] == "InvalidAccessError"
        # The account's record and the session, each only an IV and its ciphertext...
        assert sorted(stored["records"]) == sorted(["session", f"account:{account_id}"])
        assert {tuple(r["fields"]) for r in stored["records"].values()} == {("data", "iv")}
        for name, secret in page_secrets.items():
            for record in stored["records"].values():
                assert secret.hex() not in record["bytes"], name
        # ... which the wrapping key opens for the page: the keys are in there.
        assert from_base64url(stored["rootSeed"]) == page_secrets["root_seed"]
        assert stored["elsewhere"] == [""]  # nothing in localStorage, sessionStorage, cookies
        for name, secret in page_secrets.items():
            needles[f"{side} {name}"] = encodings(secret)

    env = restartable.env
    public = bytes(await run(talk.patient_page, "() => Array.from(client.keystore.root.publicKey)"))
    logs = b"".join(path.read_bytes() for path in restartable.folder.glob("serve-*.log"))
    assert b"POST /api/v1/sessions" in logs  # the right logs, and not empty
    client: MongoClient[dict[str, Any]] = MongoClient(env["CARECHAT_MONGODB_URI"])
    with client:
        # The scan finds a key the server does hold: the patient's public root key.
        assert any(
            scan_mongodb(client, env["CARECHAT_MONGODB_DB"], form).found_in
            for form in encodings(public)
        )
        for name, forms in needles.items():
            for needle in forms:
                assert not any(needle in sent for sent in contexts.sent), name
                stored_at = scan_mongodb(client, env["CARECHAT_MONGODB_DB"], needle)
                assert stored_at.looked_at > 0
                assert stored_at.found_in == (), name
                cached = scan_redis(env["CARECHAT_REDIS_URL"], env["CARECHAT_REDIS_PREFIX"], needle)
                assert cached.found_in == (), name
                assert needle not in logs, name
    # The scans looked at what the pages sent: the backup they sealed went up.
    assert any(b"/api/v1/accounts/me/key-backup" in sent for sent in contexts.sent)
