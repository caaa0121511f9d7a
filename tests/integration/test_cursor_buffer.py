"""Delivery cursors are buffered in memory and written in bulk (storage.threads.CursorBuffer).

What a reader on the same process sees must not depend on whether the flush has run:
the buffer, the flush in flight and MongoDB together always give the highest cursor.
On a real MongoDB; the buffered values are checked against what is (not yet) stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from chat_server.storage.threads import CursorBuffer, ThreadStore
from tests.integration.test_care_threads import _setup

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Longer than any test here: every cursor a test sees comes from the buffer.
    return dataclasses.replace(settings, cursor_flush_ms=600_000.0)


async def test_buffered_cursors_are_seen_before_the_flush_and_stored_by_it(db: Db) -> None:
    store = ThreadStore(db)
    buffer = CursorBuffer(store, interval=600, clock=ManualClock())
    buffer.note("ann", "ann:phone", "t1", 5)
    buffer.note("ann", "ann:phone", "t1", 3)  # late and smaller: ignored
    buffer.note("ann", "ann:laptop", "t2", 9)

    assert await store.device_cursors("ann:phone", ["t1"]) == {}
    assert await buffer.device_cursors("ann:phone", ["t1", "t2"]) == {"t1": 5}
    assert await buffer.any_device_has("ann", "t1", 5)
    assert not await buffer.any_device_has("ann", "t1", 6)
    assert await buffer.any_device_has("ann", "t2", 9)
    assert not await buffer.any_device_has("annie", "t1", 1)

    await buffer.flush()
    assert await store.device_cursors("ann:phone", ["t1"]) == {"t1": 5}
    assert await store.device_cursors("ann:laptop", ["t2"]) == {"t2": 9}
    # Now from MongoDB alone, with the same answers.
    assert await buffer.device_cursors("ann:phone", ["t1", "t2"]) == {"t1": 5}
    assert await buffer.any_device_has("ann", "t1", 5)
    assert not await buffer.any_device_has("annie", "t1", 1)


async def test_a_cursor_being_written_stays_visible(
    db: Db, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    store = ThreadStore(db)
    buffer = CursorBuffer(store, interval=600, clock=ManualClock())
    buffer.note("ann", "ann:phone", "t1", 5)
    await buffer.flush()
    buffer.note("ann", "ann:phone", "t1", 7)
    # An open transaction holding the cursor's document makes the flush's write wait
    # (MongoDB retries a write that conflicts with a transaction until it ends), while
    # reads go on seeing the committed 5.
    async with mongo_client.start_session() as session:
        await session.start_transaction()
        await db["cursors"].update_one(
            {"device": "ann:phone", "thread": "t1"}, {"$set": {"held": True}}, session=session
        )
        flushing = asyncio.create_task(buffer.flush())
        await asyncio.sleep(0.3)
        assert not flushing.done()
        assert await store.device_cursors("ann:phone", ["t1"]) == {"t1": 5}
        assert await buffer.device_cursors("ann:phone", ["t1"]) == {"t1": 7}
        assert await buffer.any_device_has("ann", "t1", 7)
        await session.abort_transaction()
    await asyncio.wait_for(flushing, 10)
    assert await store.device_cursors("ann:phone", ["t1"]) == {"t1": 7}


async def test_many_cursors_are_written_in_small_bulks_and_stay_visible_meanwhile(
    db: Db,
) -> None:
    """The periodic flush spreads its writes (storage/paced.py): a thousand upserts in
    one bulk held mongod long enough to delay every send. MongoDB gets them in parts,
    and readers on the process see every cursor throughout."""
    store = ThreadStore(db)
    buffer = CursorBuffer(store, interval=600, clock=ManualClock())
    for i in range(150):
        buffer.note(f"acct{i}", f"acct{i}:phone", "t1", 3)
    flushing = asyncio.create_task(buffer.flush(within=0.6))
    stored_counts = set()
    while not flushing.done():
        stored_counts.add(await db["cursors"].count_documents({"thread": "t1"}))
        assert await buffer.any_device_has("acct149", "t1", 3)
        await asyncio.sleep(0.01)
    await flushing
    assert {64, 128} <= stored_counts  # bulks of 64, one every 0.2 s
    assert await db["cursors"].count_documents({"thread": "t1", "seq": 3}) == 150
    assert await buffer.device_cursors("acct0:phone", ["t1"]) == {"t1": 3}


async def test_the_writer_flushes_every_interval_and_a_smaller_cursor_never_wins(db: Db) -> None:
    store = ThreadStore(db)
    buffer = CursorBuffer(store, interval=0.05, clock=ManualClock())
    buffer.start()
    try:
        buffer.note("ann", "ann:phone", "t1", 4)
        for _ in range(100):
            if await store.device_cursors("ann:phone", ["t1"]):
                break
            await asyncio.sleep(0.02)
        assert await store.device_cursors("ann:phone", ["t1"]) == {"t1": 4}
        buffer.note("ann", "ann:phone", "t1", 2)
        await asyncio.sleep(0.2)
        assert await store.device_cursors("ann:phone", ["t1"]) == {"t1": 4}
    finally:
        await buffer.close()


async def test_sync_without_cursors_resumes_from_a_buffered_delivered_and_shutdown_stores_it(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    doctor, _ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    for i in range(4):
        await ann_phone.send_text(thread_id, f"m{i}", everyone)
    await doc_pc.next_of("msg", seq=4)
    await doc_pc.request({"type": "delivered", "thread": thread_id, "seq": 3})
    await doc_pc.close()

    doc_pc.backlog.clear()
    await doc_pc.connect()
    await doc_pc.request({"type": "sync"})
    assert [f["seq"] for f in doc_pc.backlog if f["type"] == "msg"] == [4]
    assert await db["cursors"].count_documents({"thread": thread_id}) == 0  # not yet stored

    await doc_pc.close()
    await ann_phone.close()
    await client.close()  # the app's shutdown writes what is buffered
    stored = await db["cursors"].find_one({"thread": thread_id})
    assert stored is not None
    assert stored["seq"] == 3
