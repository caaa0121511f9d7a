"""Notice e-mails over real SMTP (aiosmtpd started here), one-click unsubscribe, and
a campaign that pauses itself when the relay keeps failing."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from e2e_crypto.client.api import Api
from e2e_crypto.client.mailings import send_campaign
from e2e_crypto.client.roster import RosterRow, import_bodies
from moderation.consents import TEXT_VERSIONS, Purpose
from tests.actors import Actor, app_client
from tests.mailings import (
    PracticeDesk,
    accept_invitation,
    grant_mailings,
    practice_desk,
    until_state,
    verified,
)

Client = TestClient[web.Request, web.Application]
MAILINGS = Purpose.PREVENTION_MAILINGS
MEDICAL_WORDS = ("flu", "vaccin", "diabet", "65", "griep", "grippe", "CANARY")


class Inbox:
    """Keeps what arrives; with ``hold``, answers each message only after that long,
    counting how many were in flight at once."""

    def __init__(self, hold: float = 0.0) -> None:
        self.messages: list[EmailMessage] = []
        self.hold = hold
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.hold)
        self.in_flight -= 1
        self.messages.append(parsed)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def _patients(
    client: Client, outbox: MemoryOutbox, desk: PracticeDesk, extra: int = 0
) -> list[Actor]:
    rows = [
        RosterRow(2, "ann@example.org", "fr", {"conditions": "diabetes"}),
        RosterRow(3, "bob@example.org", "nl", {"conditions": "none"}),
    ]
    rows += [RosterRow(4 + n, f"pat{n}@example.org", "en", {}) for n in range(extra)]
    for body in import_bodies(rows, desk.staff_key.public_key, group=desk.group, epoch=1):
        await desk.admin.call("POST", f"/api/v1/practices/{desk.practice_id}/roster", body)
    people = [await accept_invitation(client, outbox, r.email) for r in rows]
    for person in people:
        await grant_mailings(person, desk.practice_id)  # opt-in: no consent, no mailing
    return people


async def _send(client: Client, desk: PracticeDesk, campaign_id: str, people: list[Actor]) -> None:
    api = Api(str(client.make_url("/")))
    api.use_token(desk.admin.token, desk.admin.account_id)
    async with api:
        await send_campaign(
            api,
            desk.device,
            practice_id=desk.practice_id,
            campaign_id=campaign_id,
            text=b"Flu vaccination (griep, grippe) for patients over 65 with diabetes. CANARY",
            devices={p.account_id: [verified(p, p.email.split("@")[0] + "-phone")] for p in people},
        )


async def test_notices_are_content_free_localised_and_unsubscribe_in_one_click(
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    client = await app_client(
        aiohttp_client, settings, clock, outbox,
        smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
        smtp_from="Dokterspraktijk <mailings@chat.example.org>",
        public_url="https://chat.example.org",
    )  # fmt: skip
    desk = await practice_desk(client, outbox, "admin@practice.example")
    ann, bob = await _patients(client, outbox, desk)
    await _send(client, desk, "flu-campaign-smtp-01", [ann, bob])
    done = await until_state(desk, "flu-campaign-smtp-01", "done")
    assert done["progress"]["mail_sent"] == 2
    by_to = {m["To"]: m for m in inbox.messages}
    assert sorted(by_to) == ["ann@example.org", "bob@example.org"]
    assert by_to["ann@example.org"]["Subject"] == "Votre cabinet vous a envoyé un message"
    assert by_to["bob@example.org"]["Subject"] == "Uw praktijk heeft u een bericht gestuurd"
    message_ids = set()
    for message in inbox.messages:
        assert message["From"] == "Dokterspraktijk <mailings@chat.example.org>"
        assert message["Message-ID"].endswith("@chat.example.org>")
        message_ids.add(message["Message-ID"])
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = message["List-Unsubscribe"]
        assert unsubscribe.startswith("<https://chat.example.org/api/v1/mailings/unsubscribe/")
        assert unsubscribe.endswith(">")
        assert message["Date"] is not None
        # No medical content: not in the subject, the body or any header with text.
        body = message.get_body()
        assert body is not None
        token = unsubscribe.rsplit("/", 1)[1].rstrip(">")
        readable = [body.get_content(), message["Subject"], message["From"], message["To"]]
        readable += [message.get("Precedence", ""), message.get("Content-Language", "")]
        for word in MEDICAL_WORDS:
            for text in readable:
                # Without the random unsubscribe token, which may spell "65" by chance.
                assert word.lower() not in text.replace(token, "").lower()
        # The token says nothing: not the patient, not the practice.
        for who in (ann.account_id, bob.account_id, desk.practice_id):
            assert who not in token
    assert len(message_ids) == 2
    # The body's link opens a page that asks: opening it (a mail scanner does)
    # unsubscribes no one; Bob clicks its button, which POSTs.
    bob_body = by_to["bob@example.org"].get_body()
    assert bob_body is not None
    # The link to read it opens the patient's announcements (the widget), not the
    # practitioners' inbox.
    links = [w for w in bob_body.get_content().split() if w.startswith("https://")]
    assert links[0] == "https://chat.example.org/announcements"
    assert (await client.get("/announcements")).status == 200
    [bob_page] = [w for w in bob_body.get_content().split() if "/mailings/unsubscribe/" in w]
    assert bob_page.startswith("https://chat.example.org/mailings/unsubscribe/")
    page_path = bob_page.removeprefix("https://chat.example.org")
    opened = await client.get(page_path)
    assert opened.status == 200
    assert '<form method="post">' in await opened.text()
    # The one-click POST: no session, no cookie; twice is the same as once.
    ann_link = by_to["ann@example.org"]["List-Unsubscribe"].strip("<>")
    path = ann_link.removeprefix("https://chat.example.org")
    client.session.cookie_jar.clear()
    for _ in range(2):
        response = await client.post(
            path,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 200, await response.text()
    unknown = await client.post(path[:-4] + "AAAA", data="List-Unsubscribe=One-Click")
    assert unknown.status == 404
    # The click revoked Ann's consent to this practice's mailings, once, with its time
    # and the text version she had agreed to: her history says so.
    mine = await ann.call("GET", "/api/v1/consents")
    assert [(r["purpose"], r["scope"], r["action"], r["version"]) for r in mine["history"]] == [
        ("prevention_mailings", desk.practice_id, "grant", TEXT_VERSIONS[MAILINGS]),
        ("prevention_mailings", desk.practice_id, "revoke", TEXT_VERSIONS[MAILINGS]),
    ]
    assert mine["current"] == []
    # Ann is excluded from the practice's next campaign; Bob is not, until he clicks.
    inbox.messages.clear()
    await _send(client, desk, "flu-campaign-smtp-02", [ann, bob])
    second = await until_state(desk, "flu-campaign-smtp-02", "done")
    assert (second["progress"]["opted_out"], second["progress"]["delivered"]) == (1, 1)
    assert [m["To"] for m in inbox.messages] == ["bob@example.org"]
    clicked = await client.post(page_path)
    assert clicked.status == 200
    assert "no more prevention messages" in await clicked.text()
    await _send(client, desk, "flu-campaign-smtp-03", [ann, bob])
    third = await until_state(desk, "flu-campaign-smtp-03", "done")
    assert (third["progress"]["opted_out"], third["progress"]["delivered"]) == (2, 0)
    assert (await ann.call("GET", "/api/v1/announcements"))["announcements"][0][
        "campaign_id"
    ] == "flu-campaign-smtp-01"


async def test_a_failing_relay_is_retried_counted_and_pauses_the_campaign(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    client = await app_client(
        aiohttp_client, settings, clock, outbox,
        smtp_host="127.0.0.1", smtp_port=_free_port(), smtp_starttls=False,  # nobody listens
        mailing_mail_attempts=3, mailing_mail_backoff_seconds=0.01,
        mailing_max_consecutive_failures=2,
    )  # fmt: skip
    desk = await practice_desk(client, outbox, "admin@practice.example")
    people = await _patients(client, outbox, desk)
    await _send(client, desk, "flu-campaign-fail-01", people)
    paused = await until_state(desk, "flu-campaign-fail-01", "paused")
    assert paused["pause_reason"] == "consecutive_failures"
    progress = paused["progress"]
    # Delivered into the app all the same; only the e-mails failed, each tried 3 times.
    assert (progress["delivered"], progress["failed"], progress["mail_retries"]) == (2, 2, 4)


async def test_notices_are_sent_with_bounded_concurrency(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    inbox, port = Inbox(hold=0.3), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        client = await app_client(
            aiohttp_client, settings, clock, outbox,
            smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
            mailing_smtp_concurrency=2,
        )  # fmt: skip
        desk = await practice_desk(client, outbox, "admin@practice.example")
        people = await _patients(client, outbox, desk, extra=3)
        await _send(client, desk, "flu-campaign-bounded-1", people)
        done = await until_state(desk, "flu-campaign-bounded-1", "done")
    finally:
        controller.stop()
    assert done["progress"]["mail_sent"] == 5
    assert inbox.most_in_flight == 2  # in parallel, but never more than the setting
