"""GDPR export and erasure (docs/gdpr.md): the archive holds what is stored, erasure
waits for its grace period and can be cancelled, and afterwards a scan of every
collection, GridFS and Redis finds the person only in the records docs/gdpr.md keeps."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import bson
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import server_secret
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from e2e_crypto.backup import seal_backup
from e2e_crypto.client import ExportArchive
from e2e_crypto.client.api import Api
from e2e_crypto.client.mailings import send_campaign
from e2e_crypto.client.roster import import_bodies, parse_roster_csv
from e2e_crypto.keys import AccountKeys
from e2e_crypto.wire import from_base64url, to_base64url
from moderation.audit import verify_chain
from moderation.pseudonym import Pseudonymizer
from tests.actors import PASSWORD, Actor, actor, app_client, login
from tests.faults.harness import until
from tests.integration.test_reports import _report, _revealed
from tests.integration.test_sanctions import _moderator, _path
from tests.mailings import (
    accept_invitation,
    grant_mailings,
    practice_desk,
    seed_campaign,
    synthetic_patients,
    until_state,
)
from tests.mailings import verified as verified_device
from tests.messaging import Device, by_device
from tests.paid import accept_terms, paid_client, stripe_double
from tests.panels import ask, create_panel, gp, online, question_id, seal, verified
from tests.practices import platform_admin
from tests.services import Services
from tests.stripe_double import StripeDouble

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
PAID_PANEL = "general"
GRACE = timedelta(days=30)
WAIT_S = 20.0


@pytest.fixture
async def double(clock: ManualClock) -> AsyncIterator[StripeDouble]:
    async with stripe_double(clock, "whsec_gdpr") as running:
        yield running


@pytest.fixture
async def gdpr_client(
    aiohttp_client: Any,
    settings: Settings,
    db: Db,
    clock: ManualClock,
    outbox: MemoryOutbox,
    double: StripeDouble,
) -> Client:
    # The clock runs through the grace period: the doctor's session outlives it.
    return await paid_client(
        aiohttp_client, settings, clock, outbox, double,
        panel_id=PAID_PANEL, webhook_secrets="whsec_gdpr", sessions_last=timedelta(days=60),
    )  # fmt: skip


async def _ann_and_her_doctor(client: Client, outbox: MemoryOutbox) -> tuple[Actor, Actor]:
    """Ann and her doctor, each with a root key and one device (ann-phone, doc-desk)."""
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    ann = await actor(client, outbox, "ann@example.org")
    for person, device_id in ((ann, "ann-phone"), (doctor, "doc-desk")):
        await person.publish_root_key()
        await person.add_device(device_id)
    return ann, doctor


async def _care_thread(ann: Actor, doctor: Actor) -> tuple[Device, Device, str, list[Any]]:
    link = await ann.call(
        "POST",
        "/api/v1/care-links",
        {"provider": {"kind": "practitioner", "id": doctor.account_id}},
        expect=201,
    )
    await doctor.call("POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True})
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    thread_id = str((await ann.call("POST", "/api/v1/threads", body, expect=201))["thread_id"])
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    ann_phone = Device(ann, ann.devices["ann-phone"])
    doc_desk = Device(doctor, doctor.devices["doc-desk"])
    await ann_phone.connect()
    await doc_desk.connect()
    everyone = await ann_phone.verified_devices(
        {ann.account_id: ann.root.public_key, doctor.account_id: doctor.root.public_key}
    )
    return ann_phone, doc_desk, thread_id, everyone


async def _upload(client: Client, who: Actor, thread_id: str, data: bytes) -> str:
    response = await client.post(
        f"/api/v1/threads/{thread_id}/attachments",
        data=io.BytesIO(data),
        headers={**who.auth, "Content-Type": "application/octet-stream"},
    )
    assert response.status == 201, await response.text()
    return str((await response.json())["attachment_id"])


def _documented_fields() -> set[str]:
    """The first column of docs/gdpr.md's table of archive.json's fields."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "gdpr.md").read_text("utf-8")
    table = text.split("| field of `archive.json` |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1] for line in table.splitlines()[2:]]
    return {name for row in rows for name in re.findall(r"`([a-z_]+)`", row)}


async def _export(client: Client, who: Actor, password: str = PASSWORD) -> zipfile.ZipFile:
    response = await client.post(
        "/api/v1/accounts/me/export", json={"password": password}, headers=who.auth
    )
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(await response.read()))


async def test_the_export_holds_the_stored_envelopes_files_and_key_backup(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    ann, doctor = await _ann_and_her_doctor(client, outbox)
    ann_phone, doc_desk, thread_id, everyone = await _care_thread(ann, doctor)
    await ann_phone.send_text(thread_id, "my prescription, please", everyone)
    await doc_desk.send_text(thread_id, "renewed", everyone)
    blob = b"sealed attachment bytes" * 1000
    attachment_id = await _upload(client, ann, thread_id, blob)
    backup = seal_backup(
        AccountKeys(ann.account_id, ann.root, tuple(ann.devices.values())), "a recovery phrase"
    )
    await client.put(
        "/api/v1/accounts/me/key-backup",
        data=backup,
        headers={**ann.auth, "Content-Type": "application/octet-stream"},
    )

    wrong = await client.post(
        "/api/v1/accounts/me/export", json={"password": "not the password"}, headers=ann.auth
    )
    assert wrong.status == 401
    archive = await _export(client, ann)
    document = json.loads(archive.read("archive.json"))
    assert (document["schema"], document["version"]) == ("carechat.export", 1)
    assert document["account_id"] == ann.account_id
    assert document["account"]["email"] == "ann@example.org"
    assert "password_hash" not in document["account"]
    assert [d["_id"] for d in document["devices"]] == ["ann-phone"]
    assert from_base64url(document["key_backup"]["blob"]) == backup
    assert document["care_links"][0]["provider_id"] == doctor.account_id
    [thread] = document["threads"]
    assert (thread["thread_id"], thread["messages"]) == (thread_id, 2)
    stored = json.loads(archive.read(thread["path"]))
    async for message in db["messages"].find({"thread": thread_id}).sort("seq", 1):
        exported = stored["messages"][message["seq"] - 1]
        assert from_base64url(exported["envelope"]) == bytes(message["envelope"])
    [attachment] = document["attachments"]
    assert attachment["attachment_id"] == attachment_id
    assert archive.read(attachment["path"]) == blob
    assert set(document) == _documented_fields()
    actions = {entry["action"] for entry in document["audit"]}
    assert {"login", "device_added", "care_link_created"} <= actions
    # The doctor's own export has the thread too, but not Ann's account or backup.
    theirs = json.loads((await _export(client, doctor)).read("archive.json"))
    assert theirs["account"]["email"] == "doc@example.org"
    assert theirs["key_backup"] is None
    assert [t["thread_id"] for t in theirs["threads"]] == [thread_id]
    # A block is the blocker's data: the blocked person's export does not name it.
    await doctor.call("PUT", f"/api/v1/blocks/{ann.account_id}", expect=204)
    blocks = json.loads((await _export(client, doctor)).read("archive.json"))["blocks"]
    assert [b["blocked"] for b in blocks] == [ann.account_id]
    assert json.loads((await _export(client, ann)).read("archive.json"))["blocks"] == []


async def test_an_erasure_waits_for_its_grace_period_and_can_be_cancelled(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    assert (await login(client, ann.email))["erasure"] == {"pending": False}
    wrong = await ann.call(
        "POST", "/api/v1/accounts/me/erasure", {"password": "not the password"}, expect=401
    )
    assert wrong["code"] == "invalid_credentials"
    await ann.call("DELETE", "/api/v1/accounts/me/erasure", expect=409)
    pending = await ann.call(
        "POST", "/api/v1/accounts/me/erasure", {"password": PASSWORD}, expect=202
    )
    assert pending["pending"] is True
    assert pending["erase_after"] == (clock.now() + GRACE).isoformat()
    again = await ann.call(
        "POST", "/api/v1/accounts/me/erasure", {"password": PASSWORD}, expect=409
    )
    assert again["code"] == "erasure_already_requested"
    # Logging in during the grace period shows what is pending (and the way back).
    session = await login(client, ann.email)
    assert session["erasure"] == pending
    assert await ann.call("GET", "/api/v1/accounts/me/erasure") == pending
    assert (await ann.call("GET", "/api/v1/accounts/me"))["erasure"] == pending
    await ann.call("DELETE", "/api/v1/accounts/me/erasure", expect=204)
    assert await ann.call("GET", "/api/v1/accounts/me/erasure") == {"pending": False}
    # Past the date, the cancelled request's job changes nothing.
    clock.advance(GRACE.total_seconds() + 60)

    async def job_finished() -> bool:
        return await db["jobs"].count_documents({"kind": "erase_account", "state": "done"}) == 1

    await until(job_finished, WAIT_S, "job_finished")
    assert await db["accounts"].count_documents({"_id": ann.account_id}) == 1
    session = await login(client, ann.email)  # the first session idled out meanwhile
    assert session["erasure"] == {"pending": False}
    ann.token = session["token"]
    # Asked again, it is a new request with its own date, and it is carried out.
    again = await ann.call("POST", "/api/v1/accounts/me/erasure", {"password": PASSWORD}, 202)
    assert again["erase_after"] == (clock.now() + GRACE).isoformat()
    clock.advance(GRACE.total_seconds() - 60)
    await asyncio.sleep(0.3)  # the runner polls; the new job is not due yet
    assert await db["accounts"].count_documents({"_id": ann.account_id}) == 1
    clock.advance(120)

    async def erased() -> bool:
        return await db["accounts"].count_documents({"_id": ann.account_id}) == 0

    await until(erased, WAIT_S, "erased")
    failed = await client.post("/api/v1/sessions", json={"email": ann.email, "password": PASSWORD})
    assert failed.status == 401


class Scan:
    """Where the person's identifiers are still found: collection -> documents' ids."""

    def __init__(self, needles: list[bytes]) -> None:
        self.needles = needles

    async def mongo(self, db: Db) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for name in sorted(await db.list_collection_names()):
            async for doc in db[name].find():
                raw = bson.encode(doc)
                if any(needle in raw for needle in self.needles):
                    found.setdefault(name, set()).add(str(doc.get("_id")))
        return found

    async def redis(self, services: Services) -> list[bytes]:
        client = aioredis.Redis.from_url(services.redis.url)
        hits = []
        try:
            async for key in client.scan_iter(count=1000):
                kind = await client.type(key)
                value: bytes = b""
                if kind == b"string":
                    stored = await client.get(key)
                    value = stored if isinstance(stored, bytes) else b""
                elif kind == b"hash":
                    value = repr(await client.hgetall(key)).encode()
                if any(n in key or n in value for n in self.needles):
                    hits.append(key)
        finally:
            await client.aclose()
        return hits


async def _limiter_keys(services: Services, settings: Settings, identifiers: list[str]) -> set[str]:
    """The person's rate-limit buckets: their keys name a keyed pseudonym, so the
    scan of raw values cannot see them; the server's own pseudonyms find them."""
    pseudonym = Pseudonymizer(server_secret(settings), purpose="carechat-rl")
    wanted = {pseudonym(i) for i in identifiers}
    client = aioredis.Redis.from_url(services.redis.url)
    try:
        keys = [k.decode() async for k in client.scan_iter(f"{settings.redis_prefix}rl:*")]
    finally:
        await client.aclose()
    return {k for k in keys if k.rsplit(":", 1)[1] in wanted}


async def test_after_erasure_a_scan_finds_only_the_records_the_law_keeps(
    gdpr_client: Client,
    outbox: MemoryOutbox,
    db: Db,
    clock: ManualClock,
    double: StripeDouble,
    settings: Settings,
    services: Services,
) -> None:
    client = gdpr_client
    platform = await platform_admin(client, db, clock)
    # A practice imports Ann on its roster; she accepts its invitation (a care link).
    desk = await practice_desk(client, outbox, "admin@practice.example")
    parsed = parse_roster_csv(b"email;language;age_band\r\nann@example.org;fr;65+\r\n")
    [rows] = list(import_bodies(parsed.rows, desk.staff_key.public_key, group=desk.group, epoch=1))
    await desk.admin.call("POST", f"/api/v1/practices/{desk.practice_id}/roster", rows)
    ann = await accept_invitation(client, outbox, "ann@example.org")
    doctor = await gp(client, outbox, platform, "doc@example.org")
    eve = await actor(client, outbox, "eve@example.org")

    # A care thread with messages both ways and an attachment Ann uploaded.
    ann_phone, doc_desk, thread_id, everyone = await _care_thread(ann, doctor)
    await ann_phone.send_text(thread_id, "my prescription, please", everyone)
    await doc_desk.send_text(thread_id, "renewed", everyone)
    from_doctor = await ann_phone.next_of("msg", seq=2)
    attachment_id = await _upload(client, ann, thread_id, b"sealed scan" * 500)
    # Her key backup, a block, a report of the doctor's message, a consent.
    await client.put(
        "/api/v1/accounts/me/key-backup",
        data=seal_backup(
            AccountKeys(ann.account_id, ann.root, tuple(ann.devices.values())), "a recovery phrase"
        ),
        headers={**ann.auth, "Content-Type": "application/octet-stream"},
    )
    await ann.call("PUT", f"/api/v1/blocks/{eve.account_id}", expect=204)
    body, key = _revealed(ann_phone, from_doctor, by_device(everyone))
    await ann.call("POST", "/api/v1/reports", _report(thread_id, 2, body, key), 201)
    await accept_terms(ann)
    # A free panel question nobody answered, and a paid chat the doctor answered.
    covid = await create_panel(doctor, [doctor], panel_id="covid")
    free_question = question_id()
    await ask(ann, covid, qid=free_question)
    general = await create_panel(doctor, [doctor], panel_id=PAID_PANEL)
    paid_id = question_id()
    envelope = seal(
        ann, paid_id, "q1", b"A rash", patient_devices=verified(ann), epoch=general.current
    )
    started = await ann.call(
        "POST",
        "/api/v1/paid-chats",
        {"thread_id": paid_id, "client_msg_id": "q1", "envelope": envelope},
        expect=201,
    )
    await double.deliver_all(double.pay(started["checkout_url"].rsplit("/", 1)[1], "card"))

    async def queued() -> bool:
        chat = await db["paid_chats"].find_one({"_id": paid_id})
        return chat is not None and chat["state"] == "queued"

    await until(queued, WAIT_S, "queued")
    await online(doctor, panel_id=PAID_PANEL)
    await doctor.call("POST", f"/api/v1/panels/{PAID_PANEL}/claims", {}, expect=201)
    answer = seal(
        doctor, paid_id, "a1", b"Cream", patient_devices=verified(ann), epoch=general.current
    )
    await doctor.call(
        "POST",
        f"/api/v1/panel-questions/{paid_id}/messages",
        {"client_msg_id": "a1", "envelope": answer, "answer": True},
        expect=201,
    )
    # A prevention mailing delivered to her.
    api = Api(str(client.make_url("/")))
    api.use_token(desk.admin.token, desk.admin.account_id)
    async with api:
        await send_campaign(
            api,
            desk.device,
            practice_id=desk.practice_id,
            campaign_id="flu-2026-gdpr-01",
            text=b"Flu vaccination is open",
            devices={ann.account_id: [verified_device(ann, "ann-phone")]},
        )
    await until_state(desk, "flu-2026-gdpr-01", "done")
    await ann_phone.close()
    await doc_desk.close()

    device = await db["devices"].find_one({"_id": "ann-phone"})
    assert device is not None
    identifiers = [ann.account_id, ann.email, "ann-phone"]
    public_keys = [device["enc_key"], device["sign_key"], to_base64url(ann.root.public_key.raw)]
    raw_keys = [from_base64url(k) for k in public_keys]
    scan = Scan([i.encode() for i in identifiers + public_keys] + raw_keys)
    before = await scan.mongo(db)
    # The scan sees her everywhere before: it is able to fail.
    assert {"accounts", "devices", "roster", "consents", "blocks", "reports", "sessions",
            "key_backups", "care_links", "campaign_deliveries", "attachments.files",
            "panel_questions", "paid_chats", "threads", "messages"} <= set(before)  # fmt: skip
    limiter_before = await _limiter_keys(services, settings, identifiers)
    assert limiter_before

    await ann.call("POST", "/api/v1/accounts/me/erasure", {"password": PASSWORD}, expect=202)
    clock.advance(GRACE.total_seconds() + 1)

    async def erased() -> bool:
        return await db["accounts"].count_documents({"_id": ann.account_id}) == 0

    await until(erased, 30, "erased")
    after = await scan.mongo(db)
    # What docs/gdpr.md lists as kept, and nothing else.
    assert set(after) <= {
        "audit_log", "threads", "messages", "paid_chats", "panel_questions", "retired_device_keys"
    }  # fmt: skip
    # The public keys that verify her messages in the threads that stay, nothing more.
    assert after.get("retired_device_keys") == {ann.account_id}
    [retired] = await db["retired_device_keys"].find().to_list()
    assert set(retired) == {"_id", "root_key", "key_log", "threads"}
    assert sorted(retired["threads"]) == sorted([thread_id, paid_id])
    assert {e["device_id"] for e in retired["key_log"]} == {"ann-phone"}
    assert after.get("threads", set()) <= {thread_id}
    assert await db["messages"].distinct("thread", {"sender_account": ann.account_id}) == sorted(
        [thread_id, paid_id]
    )
    assert after.get("paid_chats") == {paid_id}
    assert after.get("panel_questions") == {paid_id}
    assert await db["panel_questions"].count_documents({"_id": free_question}) == 0
    assert await db["attachments.files"].count_documents({"_id": attachment_id}) == 0
    assert await db["attachments.chunks"].count_documents({"files_id": attachment_id}) == 0
    assert await scan.redis(services) == []
    assert await _limiter_keys(services, settings, identifiers) == set()
    # The audit chain still verifies, and records the erasure itself.
    entries = [doc async for doc in db["audit_log"].find().sort("seq", 1)]
    assert verify_chain(entries) is None
    assert entries[-1]["action"] == "account_erased"
    # Her session is gone; the doctor still reads the shared thread.
    await ann.call("GET", "/api/v1/accounts/me", expect=401)
    relogin = await client.post("/api/v1/sessions", json={"email": ann.email, "password": PASSWORD})
    assert relogin.status == 401
    history = await doctor.call("GET", f"/api/v1/threads/{thread_id}/messages")
    assert len(history["messages"]) == 2
    # The thread, the paid chat and the payout still list; the erased member is nameless.
    summary = await doctor.call("GET", f"/api/v1/threads/{thread_id}")
    erased_member = next(m for m in summary["members"] if m["account_id"] == ann.account_id)
    assert erased_member["display_name"] is None
    listed = (await doctor.call("GET", "/api/v1/threads"))["threads"]
    assert thread_id in [t["thread_id"] for t in listed]
    payouts = (await doctor.call("GET", "/api/v1/payouts"))["payouts"]
    assert [p["thread_id"] for p in payouts] == [paid_id]


async def test_the_other_partys_erasure_takes_the_thread_and_the_kept_keys_with_it(
    gdpr_client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    """Ann's erasure keeps the thread for the doctor, with her public keys; once the
    doctor is erased too, the thread is nobody's record: it goes, and her keys too."""
    client = gdpr_client
    ann, doctor = await _ann_and_her_doctor(client, outbox)
    ann_phone, doc_desk, thread_id, everyone = await _care_thread(ann, doctor)
    await ann_phone.send_text(thread_id, "my prescription, please", everyone)
    await doc_desk.send_text(thread_id, "renewed", everyone)
    await ann_phone.next_of("msg", seq=2)
    await ann_phone.close()
    await doc_desk.close()

    async def erase(who: Actor) -> None:
        await who.call("POST", "/api/v1/accounts/me/erasure", {"password": PASSWORD}, 202)
        clock.advance(GRACE.total_seconds() + 1)

        async def erased() -> bool:
            return await db["accounts"].count_documents({"_id": who.account_id}) == 0

        await until(erased, WAIT_S, "erased")

    await erase(ann)
    assert await db["retired_device_keys"].distinct("_id") == [ann.account_id]
    assert await db["messages"].count_documents({"thread": thread_id}) == 2
    await erase(doctor)
    assert await db["retired_device_keys"].count_documents({}) == 0
    assert await db["messages"].count_documents({"thread": thread_id}) == 0
    assert await db["threads"].count_documents({"_id": thread_id}) == 0
    erasures = db["audit_log"].find({"action": "account_erased"}).sort("seq", 1)
    details = [entry["details"] async for entry in erasures]
    assert [d.get("retired_device_keys") for d in details] == [None, 1]


async def test_a_mailing_paused_on_the_erased_patient_resumes_past_them(
    aiohttp_client: Any, settings: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    client = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        jobs_poll_seconds=0.05,
        mailing_rate_per_second=1,
        mailing_batch_size=1,
        session_idle_minutes=60 * 24 * 60,
        session_absolute_hours=60 * 24,
    )
    desk = await practice_desk(client, outbox, "admin@practice.example")
    ann = await actor(client, outbox, "ann@example.org")
    await ann.publish_root_key()
    await ann.add_device("ann-phone")
    # '-' is the lowest base64url character and 'z' the highest: Ann is second of four.
    before, after = synthetic_patients(1, "-" * 6), synthetic_patients(2, "z" * 22)
    campaign_id = "flu-2026-gdpr-02"
    await seed_campaign(
        db,
        practice_id=desk.practice_id,
        sender=desk.device,
        campaign_id=campaign_id,
        patients=[*before, verified_device(ann, "ann-phone"), *after],
        now=clock.now(),
    )
    path = f"/api/v1/campaigns/{campaign_id}"
    await desk.admin.call("POST", f"{path}/schedule", {})

    async def sent_to_ann() -> bool:
        stored = await db["campaigns"].find_one({"_id": campaign_id})
        return stored is not None and stored["cursor"] == ann.account_id

    # Paused while the resume point names her (a batch a second leaves the time).
    await until(sent_to_ann, WAIT_S, "sent_to_ann")
    await desk.admin.call("POST", f"{path}/pause")
    assert await sent_to_ann()

    await ann.call("POST", "/api/v1/accounts/me/erasure", {"password": PASSWORD}, expect=202)
    clock.advance(GRACE.total_seconds() + 1)

    async def erased() -> bool:
        return await db["accounts"].count_documents({"_id": ann.account_id}) == 0

    await until(erased, WAIT_S, "erased")
    stored = await db["campaigns"].find_one({"_id": campaign_id})
    assert stored is not None
    assert stored["cursor"] == before[0].account_id
    assert await db["jobs"].count_documents({"cursor": ann.account_id}) == 0
    # Resumed, it sends to the two after her, once each, and to nobody twice.
    await desk.admin.call("POST", f"{path}/resume")
    await until_state(desk, campaign_id, "done")
    delivered = await db["campaign_deliveries"].distinct("patient", {"campaign": campaign_id})
    assert sorted(delivered) == sorted(d.account_id for d in [*before, *after])
    assert await db["campaign_deliveries"].count_documents({"campaign": campaign_id}) == 3


async def test_a_suspended_account_exports_and_erases_with_the_logins_proof(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    moderator = await _moderator(client, db, clock)
    mallory = await actor(client, outbox, "mallory@example.org")
    await moderator.call("POST", _path(mallory, "suspend"), {"reason": "spam"}, 204)
    # No session to use: the old one ended, a login is refused.
    await mallory.call("POST", "/api/v1/accounts/me/export", {"password": PASSWORD}, expect=401)
    refused = await client.post(
        "/api/v1/sessions", json={"email": mallory.email, "password": PASSWORD}
    )
    assert refused.status == 403
    base = "/api/v1/personal-data"
    proof = {"email": mallory.email, "password": PASSWORD}
    for wrong in ({**proof, "password": "not the password"}, {**proof, "email": "x@example.org"}):
        answer = await client.post(f"{base}/export", json=wrong)
        assert answer.status == 401
        assert (await answer.json())["code"] == "invalid_credentials"
    bad = await client.post(f"{base}/erasure", json={"email": mallory.email})
    assert bad.status == 422

    exported = await client.post(f"{base}/export", json=proof)
    assert exported.status == 200, await exported.text()
    assert exported.content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await exported.read())) as archive:
        index = json.loads(archive.read("archive.json"))
    assert index["account_id"] == mallory.account_id
    assert index["account"]["status"] == "suspended"

    async def status() -> dict[str, Any]:
        answer = await client.post(f"{base}/erasure/status", json=proof)
        assert answer.status == 200
        view: dict[str, Any] = await answer.json()
        return view

    assert await status() == {"pending": False}
    requested = await client.post(f"{base}/erasure", json=proof)
    assert requested.status == 202
    assert (await requested.json())["erase_after"] == (clock.now() + GRACE).isoformat()
    assert (await status())["pending"] is True
    cancelled = await client.post(f"{base}/erasure/cancel", json=proof)
    assert cancelled.status == 204
    assert await status() == {"pending": False}
    again = await client.post(f"{base}/erasure/cancel", json=proof)
    assert (await again.json())["code"] == "erasure_not_requested"
    assert (await client.post(f"{base}/erasure", json=proof)).status == 202
    clock.advance(GRACE.total_seconds() + 1)

    async def erased() -> bool:
        return await db["accounts"].count_documents({"_id": mallory.account_id}) == 0

    await until(erased, WAIT_S, "erased")
    actions = await db["audit_log"].distinct("action", {"actor": mallory.account_id})
    assert {"data_exported", "erasure_requested", "erasure_cancelled"} <= set(actions)


async def test_the_archive_opens_the_prevention_mailings_the_patient_received(
    client: Client, outbox: MemoryOutbox
) -> None:
    desk = await practice_desk(client, outbox, "admin@practice.example")
    parsed = parse_roster_csv(b"email;language;age_band\r\nann@example.org;fr;65+\r\n")
    [rows] = list(import_bodies(parsed.rows, desk.staff_key.public_key, group=desk.group, epoch=1))
    await desk.admin.call("POST", f"/api/v1/practices/{desk.practice_id}/roster", rows)
    ann = await accept_invitation(client, outbox, "ann@example.org")
    await grant_mailings(ann, desk.practice_id)
    backup = seal_backup(
        AccountKeys(ann.account_id, ann.root, tuple(ann.devices.values())), "a recovery phrase"
    )
    await client.put(
        "/api/v1/accounts/me/key-backup",
        data=backup,
        headers={**ann.auth, "Content-Type": "application/octet-stream"},
    )
    api = Api(str(client.make_url("/")))
    api.use_token(desk.admin.token, desk.admin.account_id)
    async with api:
        await send_campaign(
            api,
            desk.device,
            practice_id=desk.practice_id,
            campaign_id="flu-2026-gdpr-03",
            text=b"Flu vaccination is open",
            devices={ann.account_id: [verified_device(ann, "ann-phone")]},
        )
    await until_state(desk, "flu-2026-gdpr-03", "done")

    exported = await client.post(
        "/api/v1/accounts/me/export", json={"password": PASSWORD}, headers=ann.auth
    )
    assert exported.status == 200
    opened = ExportArchive.open(await exported.read()).decrypt("a recovery phrase")
    [mailing] = opened.mailings
    assert (mailing.campaign_id, mailing.practice_id) == ("flu-2026-gdpr-03", desk.practice_id)
    assert mailing.text == b"Flu vaccination is open"
