"""Attachment uploads: empty files, the per-account rate and storage quota, claims by
messages, and the purge of uploads no message refers to."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.handlers.uploads import purge_unreferenced_uploads
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from chat_server.storage.attachments import AttachmentStore
from e2e_crypto.public import VerifiedDevice
from tests.actors import Actor, app_client
from tests.integration.test_care_threads import _setup
from tests.messaging import Device, new_cmid

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
OCTETS = {"Content-Type": "application/octet-stream"}
GRACE = timedelta(hours=24)
# The server's own purge job (tests/integration/test_upload_purge.py) keeps files a
# year: in the tests that call the purge themselves, only their calls delete.
PURGED_BY_THE_TEST = {"attachment_grace_hours": 24 * 365}


async def _upload(client: Client, who: Actor, thread_id: str, data: Any) -> Any:
    return await client.post(
        f"/api/v1/threads/{thread_id}/attachments", data=data, headers={**who.auth, **OCTETS}
    )


async def _stream(size: int) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked): only the server's counting stops it."""
    while size > 0:
        piece = min(size, 1000)
        size -= piece
        yield b"\x01" * piece


async def _send_claiming(
    phone: Device, thread_id: str, everyone: list[VerifiedDevice], attachment_ids: list[str]
) -> dict[str, Any]:
    cmid = new_cmid()
    envelope = phone.seal(thread_id, cmid, "see the attached scan", everyone)
    return await phone.request(
        {
            "type": "send",
            "thread": thread_id,
            "client_msg_id": cmid,
            "envelope": envelope,
            "attachments": attachment_ids,
        }
    )


async def test_empty_uploads_are_refused_and_nothing_is_kept(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    _doctor, _ann, _pc, ann_phone, thread_id, _ = await _setup(client, outbox)
    declared = await _upload(client, ann_phone.actor, thread_id, b"")
    assert declared.status == 400
    assert (await declared.json())["code"] == "empty_upload"
    streamed = await _upload(client, ann_phone.actor, thread_id, _stream(0))
    assert streamed.status == 400
    assert (await streamed.json())["code"] == "empty_upload"
    assert await db["attachments.files"].count_documents({}) == 0
    assert await db["attachments.chunks"].count_documents({}) == 0


async def test_uploads_are_rate_limited_per_account_with_retry_after(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    client = await app_client(
        aiohttp_client, settings, clock, outbox, attachment_uploads_per_hour=3
    )
    _doctor, _ann, _pc, ann_phone, thread_id, _ = await _setup(client, outbox)
    for _ in range(3):
        assert (await _upload(client, ann_phone.actor, thread_id, b"x" * 100)).status == 201
    refused = await _upload(client, ann_phone.actor, thread_id, b"x" * 100)
    assert refused.status == 429
    assert refused.content_type == "application/problem+json"
    assert (await refused.json())["code"] == "upload_rate_limited"
    assert int(refused.headers["Retry-After"]) == 1200  # one upload back every 20 minutes
    clock.advance(1200)
    assert (await _upload(client, ann_phone.actor, thread_id, b"x" * 100)).status == 201


async def test_storage_quota_is_per_account_and_nothing_over_it_is_kept(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox, db: Db
) -> None:
    client = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        attachment_max_bytes=4000,
        attachment_quota_bytes=5000,
    )
    doctor, _ann, _pc, ann_phone, thread_id, _ = await _setup(client, outbox)
    ann = ann_phone.actor
    assert (await _upload(client, ann, thread_id, b"a" * 3000)).status == 201

    declared = await _upload(client, ann, thread_id, b"b" * 3000)
    assert declared.status == 413
    assert (await declared.json())["code"] == "upload_quota_exceeded"
    streamed = await _upload(client, ann, thread_id, _stream(3000))
    assert streamed.status == 413
    assert (await streamed.json())["code"] == "upload_quota_exceeded"
    assert await db["attachments.files"].count_documents({}) == 1
    assert await db["attachments.chunks"].count_documents({}) == 1

    # The per-file limit keeps its own code when the quota has room.
    too_big = await _upload(client, doctor, thread_id, b"c" * 4001)
    assert (too_big.status, (await too_big.json())["code"]) == (413, "too_large")
    # Another account's quota is its own; what is left of ann's fills exactly.
    assert (await _upload(client, doctor, thread_id, b"d" * 4000)).status == 201
    assert (await _upload(client, ann, thread_id, b"e" * 2000)).status == 201
    full = await _upload(client, ann, thread_id, b"f")
    assert (full.status, (await full.json())["code"]) == (413, "upload_quota_exceeded")


async def test_unclaimed_uploads_are_purged_after_the_grace_and_claimed_ones_kept(
    aiohttp_client: Any, settings: Settings, outbox: MemoryOutbox, clock: ManualClock, db: Db
) -> None:
    client = await app_client(aiohttp_client, settings, clock, outbox, **PURGED_BY_THE_TEST)
    _doctor, _ann, _pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    ann = ann_phone.actor
    kept = (await (await _upload(client, ann, thread_id, b"k" * 500)).json())["attachment_id"]
    dropped = (await (await _upload(client, ann, thread_id, b"d" * 500)).json())["attachment_id"]
    ack = await _send_claiming(ann_phone, thread_id, everyone, [kept])
    assert ack["type"] == "ack", ack
    store = AttachmentStore(db)

    clock.advance(GRACE.total_seconds() - 1)
    assert await purge_unreferenced_uploads(store, clock, GRACE) == 0
    clock.advance(2)
    assert await purge_unreferenced_uploads(store, clock, GRACE) == 1
    assert await purge_unreferenced_uploads(store, clock, GRACE) == 0  # idempotent

    # (Sessions have expired by now: the store answers for the server.)
    assert await store.info(kept) is not None
    assert await store.info(dropped) is None
    assert await db["attachments.chunks"].count_documents({"files_id": dropped}) == 0
    assert await store.stored_bytes(ann.account_id) == 500  # the quota is freed too


async def test_a_send_claims_only_its_senders_uploads_to_that_thread(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    doctor, _ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    doctors = (await (await _upload(client, doctor, thread_id, b"x" * 10)).json())["attachment_id"]
    for foreign in ([doctors], ["AAAAAAAAAAAAAAAAAAAAAA"]):
        refused = await _send_claiming(ann_phone, thread_id, everyone, foreign)
        assert refused["type"] == "error"
        assert refused["code"] == "unknown_attachment"
    # Nothing was stored for the refused sends, and the doctor's file is still unclaimed.
    assert await db["messages"].count_documents({"thread": thread_id}) == 0
    assert await db["attachments.files"].count_documents({"metadata.claimed": True}) == 0
    ack = await _send_claiming(doc_pc, thread_id, everyone, [doctors])
    assert ack["type"] == "ack", ack
    assert await db["attachments.files"].count_documents({"metadata.claimed": True}) == 1


async def test_purges_on_several_processes_and_after_a_crash_delete_each_file_once(
    aiohttp_client: Any, settings: Settings, outbox: MemoryOutbox, clock: ManualClock, db: Db
) -> None:
    client = await app_client(aiohttp_client, settings, clock, outbox, **PURGED_BY_THE_TEST)
    _doctor, _ann, _pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    ann = ann_phone.actor
    ids = [
        (await (await _upload(client, ann, thread_id, b"z" * 300)).json())["attachment_id"]
        for _ in range(6)
    ]
    # A purge that died after marking a file: the next one finishes it, and no send can
    # claim it any more.
    await db["attachments.files"].update_one({"_id": ids[0]}, {"$set": {"metadata.purging": True}})
    refused = await _send_claiming(ann_phone, thread_id, everyone, [ids[0]])
    assert refused["code"] == "unknown_attachment"
    clock.advance(GRACE.total_seconds() + 1)
    store = AttachmentStore(db)
    counts = await asyncio.gather(
        *(purge_unreferenced_uploads(AttachmentStore(db), clock, GRACE) for _ in range(3))
    )
    assert sum(counts) == 6
    assert await db["attachments.files"].count_documents({}) == 0
    assert await db["attachments.chunks"].count_documents({}) == 0
    assert await store.stored_bytes(ann.account_id) == 0


async def test_the_server_purges_at_start_up(
    aiohttp_client: Any,
    client: Client,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
    db: Db,
) -> None:
    _doctor, _ann, _pc, ann_phone, thread_id, _ = await _setup(client, outbox)
    assert (await _upload(client, ann_phone.actor, thread_id, b"s" * 100)).status == 201
    clock.advance(GRACE.total_seconds() + 1)
    await app_client(aiohttp_client, settings, clock, outbox)  # a second process starts
    for _ in range(100):
        if await db["attachments.files"].count_documents({}) == 0:
            break
        await asyncio.sleep(0.05)
    assert await db["attachments.files"].count_documents({}) == 0
