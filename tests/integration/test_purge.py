"""A purge deletes one conversation whole, in bounded batches, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.storage.attachments import AttachmentStore
from chat_server.storage.messages import MessageStore, NewMessage, StoredMessage
from chat_server.storage.purge import ThreadPurge
from chat_server.storage.retired_keys import RetiredKeyStore
from chat_server.storage.threads import ThreadStore

Database = AsyncDatabase[dict[str, Any]]


def _stamp(record: StoredMessage) -> bytes:
    return b"s" * 32


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_thread(db: Database, clock: ManualClock, thread_id: str, messages: int) -> None:
    """A care thread with ``messages`` messages, two attachments, a cursor, a read mark."""
    threads = ThreadStore(db)
    await threads.create(
        thread_id, patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=clock.now(),
    )  # fmt: skip
    store = MessageStore(db, clock, _stamp)
    store.start()
    try:
        for i in range(messages):
            cmid = f"{thread_id}-m{i}"
            await store.append(
                NewMessage(thread_id, "ann", "ann-phone", cmid, "message", cmid.encode(), b"f" * 32)
            )
    finally:
        await store.close()
    attachments = AttachmentStore(db)
    for i in range(2):
        await attachments.upload(
            f"{thread_id}-file{i}", thread_id=thread_id, uploader="ann",
            chunks=_chunks(b"x" * 300_000), max_bytes=10**6, now=clock.now(),
        )  # fmt: skip
    await threads.advance_many({("ann:phone", thread_id): messages})
    await threads.mark_read("ann", thread_id, messages)


async def test_a_care_thread_is_deleted_whole_in_batches(db: Database) -> None:
    clock = ManualClock()
    await seed_thread(db, clock, "gone", messages=12)
    await seed_thread(db, clock, "kept", messages=3)
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    # The clock stands still: each pause is the minimum.
    purge = ThreadPurge(
        db, batch_size=5, pause_seconds=0.01, sleep=sleep, monotonic=clock.monotonic
    )
    purged = await purge.care_thread("gone")

    assert purged.counts == {
        "messages": 12, "attachments": 2, "cursors": 1, "read_marks": 1, "threads": 1,
    }  # fmt: skip
    # 12 messages in batches of at most 5 (5, 5, then the last 2), a pause after each
    # full batch, and one after the batch of files.
    assert pauses == [0.01, 0.01, 0.01]
    emptied: list[tuple[str, dict[str, Any]]] = [
        ("messages", {"thread": "gone"}),
        ("attachments.files", {"metadata.thread": "gone"}),
        ("attachments.chunks", {"files_id": {"$in": ["gone-file0", "gone-file1"]}}),
        ("cursors", {"thread": "gone"}),
        ("read_marks", {"thread": "gone"}),
        ("threads", {"_id": "gone"}),
    ]
    for name, query in emptied:
        assert await db[name].count_documents(query) == 0, name
    # The other thread is untouched.
    assert await db["messages"].count_documents({"thread": "kept"}) == 3
    assert await db["attachments.files"].count_documents({"metadata.thread": "kept"}) == 2
    assert await db["attachments.chunks"].count_documents({}) == 4
    assert await db["threads"].count_documents({"_id": "kept"}) == 1
    # Purging again is harmless: nothing is left to remove.
    assert (await purge.care_thread("gone")).counts == {}


async def test_the_pause_is_as_long_as_the_work_before_it(db: Database) -> None:
    """A purge takes at most half the database's time: the slower its batches (a busy
    database), the longer it waits after each."""
    clock = ManualClock()
    await seed_thread(db, clock, "gone", messages=12)
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    def monotonic() -> float:
        clock.advance(0.25)  # every look at the clock finds a quarter second gone
        return clock.monotonic()

    purge = ThreadPurge(db, batch_size=5, pause_seconds=0.01, sleep=sleep, monotonic=monotonic)
    await purge.care_thread("gone")
    assert pauses == [0.25, 0.25, 0.25]


async def test_a_purge_takes_the_thread_from_the_kept_keys_and_the_last_one_the_record(
    db: Database,
) -> None:
    """An erased person's kept public keys (storage/retired_keys.py) live as long as
    the retained threads they verify: each purge takes its thread off the record, and
    the purge of the last one deletes it."""
    clock = ManualClock()
    for thread_id in ("first", "last", "other"):
        await seed_thread(db, clock, thread_id, messages=2)
    retired = RetiredKeyStore(db)
    await retired.keep("erased", "root", [{"seq": 1, "device_id": "dev"}], ["first", "last"])
    await retired.keep("someone", "root2", [], ["other"])
    purge = ThreadPurge(db, monotonic=clock.monotonic)

    assert "retired_device_keys" not in (await purge.care_thread("first")).counts
    kept = await db["retired_device_keys"].find_one({"_id": "erased"})
    assert kept is not None
    assert kept["threads"] == ["last"]
    assert (await purge.care_thread("last")).counts["retired_device_keys"] == 1
    assert await db["retired_device_keys"].distinct("_id") == ["someone"]
    # Again, or a thread no record names: nothing more goes.
    assert "retired_device_keys" not in (await purge.care_thread("last")).counts
    assert await retired.release("never-kept") == 0
    assert await db["retired_device_keys"].distinct("_id") == ["someone"]
