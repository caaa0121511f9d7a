"""Prevention mailings: roster import, campaigns, fan-out, mailing consent, access, privacy."""

from __future__ import annotations

import asyncio
import email
import io
import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.clock import ManualClock
from chat_server.logs import configure_logging
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from e2e_crypto.client.api import Api
from e2e_crypto.client.mailings import read_announcements, send_campaign
from e2e_crypto.client.roster import RosterRow, audience, import_bodies, parse_roster_csv
from e2e_crypto.wire import to_base64url
from tests.actors import actor, app_client
from tests.faults.harness import until
from tests.integration.test_privacy_and_files import _all_documents_text, _redis_text
from tests.mailings import (
    Db,
    PracticeDesk,
    accept_invitation,
    campaign_state,
    grant_mailings,
    linked_patient,
    practice_desk,
    sealed_for,
    seed_campaign,
    synthetic_patients,
    until_state,
    verified,
)
from tests.messaging import Device
from tests.services import Services

Client = TestClient[web.Request, web.Application]
LABEL_CANARY = "CANARY-label-diabetes-5e1b"
TEXT_CANARY = "CANARY-mailing-flu-9c2d"

ROSTER = (
    "email;language;age_band;conditions\r\n"
    f"ann@example.org;fr;65+;{LABEL_CANARY}\r\n"
    "bob@example.org;nl;65+;aucune\r\n"  # "aucune": Latin-1 is fine, no accent needed
    "cat@example.org;en;40-64;asthme, allergie\r\n"
    "not-an-address;en;65+;\r\n"
    "dan@example.org;en;65+\r\n"
    "ann@example.org;fr;65+;again\r\n"
    "eve@example.org;de;65+;\r\n"
    "\r\n"
    "fay@example.org;fr;65+;hépatite\r\n"
).encode("cp1252")


def _api(client: Client, who: Any) -> Api:
    api = Api(str(client.make_url("/")))
    api.use_token(who.token, who.account_id)
    return api


def _notices(data_dir: Path) -> list[email.message.Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in (data_dir / "outbox").glob("*.eml")]


async def test_a_roster_imports_its_good_rows_and_reports_the_rest_by_line(
    client: Client, outbox: MemoryOutbox
) -> None:
    desk = await practice_desk(client, outbox, "admin@practice.example")
    parsed = parse_roster_csv(ROSTER)
    assert [(r.line, r.reason) for r in parsed.rejected] == [
        (5, "the e-mail address is malformed"),
        (6, "3 fields where the header has 4"),
        (7, "the same e-mail address as line 2"),
        (8, "the language is not one of en, fr, nl"),
    ]
    assert [r.email for r in parsed.rows] == [
        "ann@example.org", "bob@example.org", "cat@example.org", "fay@example.org",
    ]  # fmt: skip
    assert parsed.rows[3].labels["conditions"] == "hépatite"  # Latin-1 decoded
    [body] = list(import_bodies(parsed.rows, desk.staff_key.public_key, group=desk.group, epoch=1))
    # The server reports what it refuses by line too.
    body["rows"].append({**body["rows"][1], "line": 100, "email": "x@@example.org"})
    report = await desk.admin.call("POST", f"/api/v1/practices/{desk.practice_id}/roster", body)
    assert report == {
        "imported": 4,
        "updated": 0,
        "rejected": [{"line": 100, "reason": "the e-mail address is malformed"}],
    }
    # Each imported row was invited; accepting links the row to the account.
    ann = await accept_invitation(client, outbox, "ann@example.org")
    listing = await desk.admin.call("GET", f"/api/v1/practices/{desk.practice_id}/roster")
    linked = {row["email"]: row["account_id"] for row in listing["rows"]}
    assert linked == {
        "ann@example.org": ann.account_id,
        "bob@example.org": None,
        "cat@example.org": None,
        "fay@example.org": None,
    }
    # The audience is computed from labels only the staff group can open.
    over_65 = audience(listing["rows"], desk.staff_key, lambda labels: labels["age_band"] == "65+")
    assert over_65 == [ann.account_id]
    assert audience(listing["rows"], desk.staff_key, lambda labels: False) == []
    # A newer export: Ann's row (already on the roster) gets its new language and
    # labels, without a second invitation; a new address is imported and invited.
    invitations = len(outbox.sent)
    newer = [
        RosterRow(2, "ANN@example.org", "nl", {"age_band": "40-64", "conditions": "none"}),
        RosterRow(3, "gil@example.org", "en", {"age_band": "65+"}),
    ]
    [body] = list(import_bodies(newer, desk.staff_key.public_key, group=desk.group, epoch=1))
    report = await desk.admin.call("POST", f"/api/v1/practices/{desk.practice_id}/roster", body)
    assert report == {"imported": 1, "updated": 1, "rejected": []}
    assert [m.to for m in outbox.sent[invitations:]] == ["gil@example.org"]
    listing = await desk.admin.call("GET", f"/api/v1/practices/{desk.practice_id}/roster")
    rows = {row["email"]: row for row in listing["rows"]}
    assert len(rows) == 5
    assert (rows["ann@example.org"]["language"], rows["ann@example.org"]["line"]) == ("nl", 2)
    assert rows["ann@example.org"]["account_id"] == ann.account_id
    still_65 = audience(listing["rows"], desk.staff_key, lambda labels: labels["age_band"] == "65+")
    assert still_65 == []


async def test_a_campaign_reaches_linked_consenting_patients_once(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox, db: Db
) -> None:
    client = await app_client(aiohttp_client, settings, clock, outbox)
    desk = await practice_desk(client, outbox, "admin@practice.example")
    ann = await linked_patient(client, outbox, desk, "ann@example.org")
    bob = await linked_patient(client, outbox, desk, "bob@example.org")
    # Opt-in: Cid is linked but never consented; Bob consented, then revoked.
    cid = await linked_patient(client, outbox, desk, "cid@example.org", consents=False)
    dan = await actor(client, outbox, "dan@example.org")  # no care link
    await dan.publish_root_key()
    await dan.add_device("dan-phone")
    await grant_mailings(dan, desk.practice_id)  # a consent does not replace the link
    mailings = {"purpose": "prevention_mailings", "scope": desk.practice_id}
    await bob.call("POST", "/api/v1/consents/revoke", mailings, expect=204)
    text = f"Flu vaccination is open for patients over 65. {TEXT_CANARY}".encode()
    devices = {
        ann.account_id: [verified(ann, "ann-phone")],
        bob.account_id: [verified(bob, "bob-phone")],
        cid.account_id: [verified(cid, "cid-phone")],
        dan.account_id: [verified(dan, "dan-phone")],
    }
    ann_phone = Device(ann, ann.devices["ann-phone"])
    await ann_phone.connect()
    async with _api(client, desk.admin) as api:
        scheduled = await send_campaign(
            api,
            desk.device,
            practice_id=desk.practice_id,
            campaign_id="flu-2026-campaign-01",
            text=text,
            devices=devices,
        )
    assert scheduled["state"] == "scheduled"
    # Ann's open socket hears of it at once: ids only, the list has the rest.
    pushed = await ann_phone.next_of("announcement", wait=30)
    assert pushed == {
        "type": "announcement",
        "campaign_id": "flu-2026-campaign-01",
        "practice_id": desk.practice_id,
    }
    await ann_phone.close()
    done = await until_state(desk, "flu-2026-campaign-01", "done")
    assert done["progress"] == {
        "recipients": 4, "delivered": 1, "read": 0, "opted_out": 2, "no_care_link": 1,
        "failed": 0, "mail_sent": 1, "mail_retries": 0,
    }  # fmt: skip
    sender = {desk.admin.account_id: verified(desk.admin, desk.device.device_id)}
    async with _api(client, ann) as api:
        [received] = await read_announcements(api, ann.devices["ann-phone"], sender)
    assert received.text == text
    assert received.practice_id == desk.practice_id
    for other in (bob, cid, dan):
        assert (await other.call("GET", "/api/v1/announcements"))["announcements"] == []
        await other.call("POST", "/api/v1/announcements/flu-2026-campaign-01/read", expect=404)
    await ann.call("POST", "/api/v1/announcements/flu-2026-campaign-01/read", expect=204)
    await ann.call("POST", "/api/v1/announcements/flu-2026-campaign-01/read", expect=204)
    progress = (await campaign_state(desk, "flu-2026-campaign-01"))["progress"]
    assert progress["read"] == 1
    # One notice e-mail, to Ann, content-free.
    [notice] = _notices(settings.data_dir)
    assert notice["To"] == "ann@example.org"
    assert TEXT_CANARY not in notice.as_string()
    # The same run again (a retried job) delivers nothing twice.
    deliveries = await db["campaign_deliveries"].count_documents({})
    assert deliveries == 4
    assert await db["campaign_deliveries"].count_documents({"state": "delivered"}) == 1


async def test_campaign_states_and_recipient_rules(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    desk = await practice_desk(client, outbox, "admin@practice.example")
    other = await practice_desk(client, outbox, "admin@other.example")
    ann = await linked_patient(client, outbox, desk, "ann@example.org")
    sealed = sealed_for(desk, "news-2026-campaign-1", b"news", [verified(ann, "ann-phone")])
    path = f"/api/v1/practices/{desk.practice_id}/campaigns"
    body = {"campaign_id": "news-2026-campaign-1", "body": to_base64url(sealed.body)}
    # A body sealed for another campaign id is refused; so is a stranger's campaign.
    wrong = await desk.admin.call(
        "POST", path, {**body, "campaign_id": "news-2026-campaign-2"}, expect=422
    )
    assert wrong["code"] == "invalid_broadcast"
    await other.admin.call("POST", path, body, expect=404)
    # The console's own sealed note of the campaign: kept as is, at most 1 KiB.
    note = to_base64url(bytes(range(200)))
    too_long = await desk.admin.call(
        "POST", path, {**body, "note": to_base64url(bytes(1025))}, expect=422
    )
    assert too_long["code"] == "validation_failed"
    created = await desk.admin.call("POST", path, {**body, "note": note}, expect=201)
    assert (created["state"], created["note"]) == ("draft", note)
    taken = await desk.admin.call("POST", path, body, expect=409)
    assert taken["code"] == "campaign_id_taken"
    campaign = "/api/v1/campaigns/news-2026-campaign-1"
    empty = await desk.admin.call("POST", f"{campaign}/schedule", {}, expect=409)
    assert empty["code"] == "campaign_has_no_recipients"
    slip = to_base64url(sealed.slips[(ann.account_id, "ann-phone")])
    # A slip must name its recipient.
    misfiled = await desk.admin.call(
        "POST", f"{campaign}/recipients",
        {"recipients": [{"patient": desk.admin.account_id, "slips": [slip]}]}, expect=422,
    )  # fmt: skip
    assert misfiled["code"] == "invalid_broadcast"
    added = await desk.admin.call(
        "POST", f"{campaign}/recipients",
        {"recipients": [{"patient": ann.account_id, "slips": [slip]}]},
    )  # fmt: skip
    assert added == {"recipients": 1}
    # Strangers see nothing; a paused draft is not a thing.
    await other.admin.call("GET", campaign, expect=404)
    await ann.call("GET", campaign, expect=404)
    refused = await desk.admin.call("POST", f"{campaign}/pause", expect=409)
    assert refused["code"] == "campaign_transition_not_allowed"
    assert (await desk.admin.call("GET", campaign))["note"] == note
    later = clock.now().replace(year=clock.now().year + 1).isoformat()
    scheduled = await desk.admin.call("POST", f"{campaign}/schedule", {"send_at": later})
    assert scheduled["state"] == "scheduled"
    frozen = await desk.admin.call(
        "POST", f"{campaign}/recipients",
        {"recipients": [{"patient": ann.account_id, "slips": [slip]}]}, expect=409,
    )  # fmt: skip
    assert frozen["code"] == "campaign_recipients_frozen"
    assert (await desk.admin.call("POST", f"{campaign}/unschedule"))["state"] == "draft"
    assert (await desk.admin.call("POST", f"{campaign}/cancel"))["state"] == "cancelled"
    await desk.admin.call("POST", f"{campaign}/schedule", {}, expect=409)
    listed = await desk.admin.call("GET", f"/api/v1/practices/{desk.practice_id}/campaigns")
    assert [c["state"] for c in listed["campaigns"]] == ["cancelled"]
    # Nothing was delivered by the job the schedule enqueued (its run is stale).
    assert (await ann.call("GET", "/api/v1/announcements"))["announcements"] == []


async def test_pause_and_cancel_take_effect_within_a_batch(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox, db: Db
) -> None:
    client = await app_client(
        aiohttp_client, settings, clock, outbox, mailing_rate_per_second=100, mailing_batch_size=10
    )
    desk = await practice_desk(client, outbox, "admin@practice.example")
    await seed_campaign(
        db,
        practice_id=desk.practice_id,
        sender=desk.device,
        campaign_id="slow-campaign-0001",
        patients=synthetic_patients(400),
        now=clock.now(),
    )
    campaign = "/api/v1/campaigns/slow-campaign-0001"
    await desk.admin.call("POST", f"{campaign}/schedule", {})
    deliveries = db["campaign_deliveries"]

    async def some() -> bool:
        return await deliveries.count_documents({}) >= 30

    await until(some, 20, "the first deliveries")
    paused = await desk.admin.call("POST", f"{campaign}/pause")
    assert (paused["state"], paused["pause_reason"]) == ("paused", "staff")
    # At most the batch in flight lands after the pause answered (10 recipients).
    at_pause = await deliveries.count_documents({})
    await asyncio.sleep(0.6)
    after = await deliveries.count_documents({})
    assert after - at_pause <= 10
    await asyncio.sleep(0.4)
    assert await deliveries.count_documents({}) == after
    resumed = await desk.admin.call("POST", f"{campaign}/resume")
    assert resumed["state"] == "sending"

    async def more() -> bool:
        return await deliveries.count_documents({}) >= after + 30

    await until(more, 20, "deliveries after resuming")
    assert (await desk.admin.call("POST", f"{campaign}/cancel"))["state"] == "cancelled"
    at_cancel = await deliveries.count_documents({})
    await asyncio.sleep(0.6)
    final = await deliveries.count_documents({})
    assert final - at_cancel <= 10
    assert final < 400
    progress = (await campaign_state(desk, "slow-campaign-0001"))["progress"]
    assert progress["delivered"] == final
    assert progress["recipients"] == 400


async def test_the_rate_limit_paces_the_fan_out(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox, db: Db
) -> None:
    rate, batch, recipients = 100, 10, 200
    client = await app_client(
        aiohttp_client, settings, clock, outbox,
        mailing_rate_per_second=rate, mailing_batch_size=batch,
    )  # fmt: skip
    desk = await practice_desk(client, outbox, "admin@practice.example")
    await seed_campaign(
        db,
        practice_id=desk.practice_id,
        sender=desk.device,
        campaign_id="paced-campaign-0001",
        patients=synthetic_patients(recipients),
        now=clock.now(),
    )
    deliveries = db["campaign_deliveries"]
    await desk.admin.call("POST", "/api/v1/campaigns/paced-campaign-0001/schedule", {})

    async def started() -> bool:
        return await deliveries.count_documents({}) > 0

    await until(started, 20, "the first batch")
    began = time.monotonic()
    await asyncio.sleep(1.0)
    seen = await deliveries.count_documents({})
    # At most `rate` a second after the first batch, one batch of slack (unpaced, the
    # whole campaign lands well within the second).
    assert seen <= batch + rate * (time.monotonic() - began) + batch
    await until_state(desk, "paced-campaign-0001", "done")
    assert time.monotonic() - began >= (recipients - 2 * batch) / rate
    assert await deliveries.count_documents({}) == recipients


async def test_no_roster_label_or_mailing_text_reaches_mongodb_redis_or_logs(
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
    db: Db,
    services: Services,
) -> None:
    log_stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", log_stream)
    try:
        client = await app_client(aiohttp_client, settings, clock, outbox)
        desk: PracticeDesk = await practice_desk(client, outbox, "admin@practice.example")
        parsed = parse_roster_csv(ROSTER)
        for body in import_bodies(
            parsed.rows, desk.staff_key.public_key, group=desk.group, epoch=1
        ):
            await desk.admin.call("POST", f"/api/v1/practices/{desk.practice_id}/roster", body)
        ann = await accept_invitation(client, outbox, "ann@example.org")
        text = f"Diabetes check-up. {TEXT_CANARY}".encode()
        async with _api(client, desk.admin) as api:
            await send_campaign(
                api,
                desk.device,
                practice_id=desk.practice_id,
                campaign_id="canary-campaign-0001",
                text=text,
                devices={ann.account_id: [verified(ann, "ann-phone")]},
            )
        await until_state(desk, "canary-campaign-0001", "done")
    finally:
        logging.getLogger().removeHandler(handler)
    stored = await _all_documents_text(db)
    assert "canary-campaign-0001" in stored  # the scan does see the mailing's documents
    assert "ann@example.org" in stored
    for canary in (LABEL_CANARY, TEXT_CANARY, "asthme", "hépatite", "aucune"):
        assert canary not in stored
        assert canary not in await _redis_text(services)
        assert canary not in log_stream.getvalue()
    for notice in _notices(settings.data_dir):
        assert TEXT_CANARY not in notice.as_string()
        assert LABEL_CANARY not in notice.as_string()
