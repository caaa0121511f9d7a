"""No plaintext at rest; attachments and key backups as opaque ciphertext; notifications
that say nothing."""

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.logs import configure_logging
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from e2e_crypto.attachments import decrypt_file, encrypt_file
from e2e_crypto.backup import open_backup, seal_backup
from e2e_crypto.keys import AccountKeys
from tests.actors import actor
from tests.integration.test_care_threads import _setup
from tests.services import Services

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
CANARY = "CANARY-7f3a9c-plaintext-must-never-be-stored"


async def _all_documents_text(db: Db) -> str:
    parts = []
    for name in await db.list_collection_names():
        async for doc in db[name].find():
            parts.append(repr(doc))
    return "\n".join(parts)


async def _redis_text(services: Services) -> str:
    client = aioredis.Redis.from_url(services.redis.url)
    try:
        parts = []
        async for key in client.scan_iter(count=1000):
            parts.append(repr(key))
            kind = await client.type(key)
            if kind == b"string":
                parts.append(repr(await client.get(key)))
            elif kind == b"hash":
                parts.append(repr(await client.hgetall(key)))
        return "\n".join(parts)
    finally:
        await client.aclose()


async def test_canary_plaintext_never_reaches_mongodb_redis_or_logs(
    aiohttp_client: Any,
    settings: Settings,
    db: Db,
    clock: ManualClock,
    outbox: MemoryOutbox,
    services: Services,
) -> None:
    log_stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", log_stream)
    try:
        client = await aiohttp_client(create_app(settings, clock=clock, mailer=outbox, sms=outbox))
        doctor, _ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
        await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
        await ann_phone.send_text(thread_id, f"{CANARY} from the patient", everyone)
        await doc_pc.send_text(thread_id, f"{CANARY} from the doctor", everyone)
        await doc_pc.next_of("msg", seq=1)
        await ann_phone.next_of("msg", seq=2)
        await ann_phone.request({"type": "read", "thread": thread_id, "seq": 2})
    finally:
        logging.getLogger().removeHandler(handler)
    stored = await _all_documents_text(db)
    assert thread_id in stored  # the scan does see the messages' collection
    assert CANARY not in stored
    assert CANARY not in await _redis_text(services)
    logs = log_stream.getvalue()
    assert "POST /api/v1/sessions" in logs  # the logs were captured
    assert CANARY not in logs
    assert doctor.token not in logs
    assert "ann@example.org" not in logs


async def test_attachments_round_trip_as_ciphertext_for_participants_only(
    client: Client, outbox: MemoryOutbox, db: Db, tmp_path: Path
) -> None:
    doctor, _ann, _doc_pc, ann_phone, thread_id, _everyone = await _setup(client, outbox)
    secret = (CANARY * 40_000).encode()[:1_500_000]
    plain = tmp_path / "scan.pdf"
    plain.write_bytes(secret)
    sealed = tmp_path / "scan.pdf.enc"
    with plain.open("rb") as src, sealed.open("wb") as dst:
        ref = encrypt_file(src, dst)
    upload = await client.post(
        f"/api/v1/threads/{thread_id}/attachments",
        data=io.BytesIO(sealed.read_bytes()),
        headers={**ann_phone.actor.auth, "Content-Type": "application/octet-stream"},
    )
    assert upload.status == 201, await upload.text()
    attachment_id = (await upload.json())["attachment_id"]

    download = await client.get(f"/api/v1/attachments/{attachment_id}", headers=doctor.auth)
    assert download.status == 200
    fetched = tmp_path / "fetched.enc"
    fetched.write_bytes(await download.read())
    out = tmp_path / "out.pdf"
    with fetched.open("rb") as src, out.open("wb") as dst:
        decrypt_file(src, dst, ref)
    assert out.read_bytes() == secret
    assert CANARY not in await _all_documents_text(db)

    eve = await actor(client, outbox, "eve@example.org")
    hidden = await client.get(f"/api/v1/attachments/{attachment_id}", headers=eve.auth)
    missing = await client.get("/api/v1/attachments/AAAAAAAAAAAAAAAAAAAAAA", headers=eve.auth)
    assert hidden.status == missing.status == 404
    wrong_type = await client.post(
        f"/api/v1/threads/{thread_id}/attachments",
        data=b"x",
        headers={**doctor.auth, "Content-Type": "text/plain"},
    )
    assert wrong_type.status == 415
    problem = await wrong_type.json(content_type="application/problem+json")
    assert (problem["code"], problem["title"]) == (
        "octet_stream_expected",
        "Send application/octet-stream",
    )


async def test_oversized_attachments_are_refused_and_nothing_is_kept(
    aiohttp_client: Any, settings: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    from dataclasses import replace

    small = replace(settings, attachment_max_bytes=100_000)
    client = await aiohttp_client(create_app(small, clock=clock, mailer=outbox, sms=outbox))
    _doctor, _ann, _doc_pc, ann_phone, thread_id, _ = await _setup(client, outbox)

    async def body() -> Any:
        for _ in range(30):
            yield b"\0" * 10_000

    response = await client.post(
        f"/api/v1/threads/{thread_id}/attachments",
        data=body(),
        headers={**ann_phone.actor.auth, "Content-Type": "application/octet-stream"},
    )
    assert response.status == 413
    assert await db["attachments.files"].count_documents({}) == 0
    assert await db["attachments.chunks"].count_documents({}) == 0


async def test_key_backup_is_stored_opaque_and_restores(
    client: Client, outbox: MemoryOutbox
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.publish_root_key()
    phone = await ann.add_device("phone")
    keys = AccountKeys(ann.account_id, ann.root, (phone,))
    blob = seal_backup(keys, "correct horse battery staple recovery")
    headers = {**ann.auth, "Content-Type": "application/octet-stream"}
    assert (
        await client.put("/api/v1/accounts/me/key-backup", data=blob, headers=headers)
    ).status == 204
    fetched = await client.get("/api/v1/accounts/me/key-backup", headers=ann.auth)
    restored = open_backup(await fetched.read(), "correct horse battery staple recovery")
    assert restored.root.public_key == ann.root.public_key
    eve = await actor(client, outbox, "eve@example.org")
    assert (await client.get("/api/v1/accounts/me/key-backup", headers=eve.auth)).status == 404
    too_big = await client.put(
        "/api/v1/accounts/me/key-backup", data=b"x" * 70_000, headers=headers
    )
    assert too_big.status == 413
    empty = await client.put("/api/v1/accounts/me/key-backup", data=b"", headers=headers)
    assert empty.status == 422
    assert (await empty.json())["code"] == "validation_failed"
    # Neither refusal touched the stored backup.
    kept = await client.get("/api/v1/accounts/me/key-backup", headers=ann.auth)
    assert await kept.read() == blob


async def test_offline_recipients_get_a_contentless_notification_once(
    aiohttp_client: Any, settings: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    from dataclasses import replace

    quick = replace(settings, notify_delay_seconds=0.2)
    client = await aiohttp_client(create_app(quick, clock=clock, mailer=outbox, sms=outbox))
    doctor, _ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doc_pc.close()  # the doctor goes offline
    before = len(outbox.sent)
    for _ in range(3):
        await ann_phone.send_text(thread_id, f"{CANARY} urgent-ish", everyone)
    clock.advance(1.0)  # the notification job comes due on the injected clock
    await asyncio.sleep(1.0)
    notes = [m for m in outbox.sent[before:] if m.to == doctor.email]
    assert len(notes) == 1  # rate-limited per recipient
    assert "secure message" in notes[0].subject
    assert CANARY not in notes[0].body
    assert "ann" not in notes[0].body.lower()
    # The patient, whose own device got the messages, is not notified.
    assert not [m for m in outbox.sent[before:] if m.to == "ann@example.org"]
