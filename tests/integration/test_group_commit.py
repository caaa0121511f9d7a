"""The message writer's group commit adapts to load: a lone send is written by
itself at once, and sends that arrive while a batch is being written share the next
``insert_many``, so a quiet server never waits out a batching window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.storage.messages import MessageStore, NewMessage, StoredMessage
from chat_server.storage.threads import ThreadStore

Database = AsyncDatabase[dict[str, Any]]


def _message(cmid: str) -> NewMessage:
    return NewMessage("thread-1", "ann", "ann-phone", cmid, "message", cmid.encode(), b"f" * 32)


def _stamp(record: StoredMessage) -> bytes:
    return b"s" * 32


@pytest.fixture
async def batches(db: Database) -> AsyncIterator[tuple[MessageStore, list[int]]]:
    """A store with the default settings, and the size of each batch it writes."""
    await ThreadStore(db).create(
        "thread-1", patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=ManualClock().now(),
    )  # fmt: skip
    sizes: list[int] = []
    store = MessageStore(db, ManualClock(), _stamp, on_batch=lambda n, _: sizes.append(n))
    store.start()
    yield store, sizes
    await store.close()


async def test_a_lone_send_is_written_by_itself(
    batches: tuple[MessageStore, list[int]],
) -> None:
    store, sizes = batches
    stored = await asyncio.wait_for(store.append(_message("only")), 10)
    assert (stored.seq, sizes) == (1, [1])


async def test_concurrent_sends_share_one_insert(
    batches: tuple[MessageStore, list[int]],
) -> None:
    store, sizes = batches
    stored = await asyncio.wait_for(
        asyncio.gather(*(store.append(_message(f"m{i}")) for i in range(20))), 10
    )
    assert sorted(s.seq for s in stored) == list(range(1, 21))
    assert sizes == [20]


async def test_sends_arriving_during_a_write_share_the_next_one(
    batches: tuple[MessageStore, list[int]],
) -> None:
    store, sizes = batches
    first = asyncio.create_task(store.append(_message("first")))
    await asyncio.sleep(0)
    assert store.queued == 1
    # The writer takes it into a batch of its own within a few turns of the event
    # loop: it waits for no window (a 2 ms timer would be thousands of turns here).
    turns = 0
    while store.queued:
        await asyncio.sleep(0)
        turns += 1
    assert turns <= 3
    # While that batch is written, these queue behind it.
    later = [asyncio.create_task(store.append(_message(f"m{i}"))) for i in range(10)]
    await asyncio.wait_for(asyncio.gather(first, *later), 10)
    assert sizes == [1, 10]
    assert [t.result().seq for t in later] == list(range(2, 12))


async def test_what_follows_a_batch_is_written_with_it_before_anyone_is_answered(
    db: Database,
) -> None:
    """``after_write`` (the offline-notification checks) gets each batch's new
    messages once, beside their insert and before any of its senders is answered. It
    may see a message the insert then refuses (a resend): a check for a seq that is
    not stored finds nothing to tell."""
    await ThreadStore(db).create(
        "thread-1", patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=ManualClock().now(),
    )  # fmt: skip
    calls: list[list[tuple[str, tuple[str, ...], int]]] = []
    appends: list[asyncio.Task[StoredMessage]] = []

    async def after_write(batch: list[tuple[NewMessage, StoredMessage]]) -> None:
        if not calls:  # the first batch: none of its senders answered yet
            assert not any(task.done() for task in appends)
        calls.append([(new.client_msg_id, new.participants, s.seq) for new, s in batch])

    store = MessageStore(db, ManualClock(), _stamp, after_write=after_write)
    store.start()
    try:
        messages = [_message(f"m{i}")._replace(participants=("ann", "doc")) for i in range(5)]
        appends.extend(asyncio.create_task(store.append(m)) for m in messages)
        await asyncio.wait_for(asyncio.gather(*appends), 10)
        assert calls == [[(f"m{i}", ("ann", "doc"), i + 1) for i in range(5)]]
        resent = await asyncio.wait_for(store.append(messages[0]), 10)
        assert (resent.duplicate, resent.seq) == (True, 1)
        assert calls[1:] == [[("m0", ("ann", "doc"), 6)]]
        assert await db["messages"].count_documents({"thread": "thread-1"}) == 5
    finally:
        await store.close()


async def test_an_acked_message_is_at_its_threads_position_before_the_counter_is_written(
    db: Database,
) -> None:
    """The ack waits for the insert alone; the thread's counter follows it. Readers
    that need the position ask the index, which has every acked message."""
    await ThreadStore(db).create(
        "thread-1", patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=ManualClock().now(),
    )  # fmt: skip
    store = MessageStore(db, ManualClock(), _stamp)
    store.start()
    try:
        for i in range(1, 4):
            stored = await asyncio.wait_for(store.append(_message(f"m{i}")), 10)
            # At once, whether or not the counter's write has run yet.
            assert await store.last_seq("thread-1") == i
            assert (await store.last_positions(["thread-1"]))["thread-1"] == (i, stored.at)
        await store.counted()
        thread = await ThreadStore(db).get("thread-1")
        assert thread is not None
        assert (thread.last_seq, thread.last_message_at) == (3, stored.at)
        assert await store.last_seq("no-such-thread") == 0
    finally:
        await store.close()


async def test_a_closing_store_writes_the_counters_it_still_owes(db: Database) -> None:
    """The counters follow the acks by up to ``COUNT_EVERY``: a graceful shutdown in
    that window writes them rather than leaving the thread behind."""
    await ThreadStore(db).create(
        "thread-1", patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=ManualClock().now(),
    )  # fmt: skip
    store = MessageStore(db, ManualClock(), _stamp)
    store.start()
    stored = await asyncio.wait_for(store.append(_message("last words")), 10)
    await store.close()
    thread = await ThreadStore(db).get("thread-1")
    assert thread is not None
    assert thread.last_seq == stored.seq == 1


async def test_a_store_closed_while_its_counters_are_written_still_writes_them_all(
    db: Database,
) -> None:
    """The counters of many threads are written in small bulks spread over a while
    (storage/paced.py). A shutdown that stops that write half-way writes the rest at
    once, the part already taken included."""
    threads = [f"thread-{i}" for i in range(200)]
    await db["threads"].insert_many([{"_id": t, "last_seq": 0} for t in threads])
    store = MessageStore(db, ManualClock(), _stamp)
    store.start()
    await asyncio.wait_for(
        asyncio.gather(*(store.append(_message(f"m-{t}")._replace(thread_id=t)) for t in threads)),
        10,
    )
    # Until the paced write has written part of them, and not all.
    for _ in range(1000):
        written = await db["threads"].count_documents({"last_seq": 1})
        if 0 < written < len(threads):
            break
        await asyncio.sleep(0.005)
    assert 0 < written < len(threads)
    await store.close()
    assert await db["threads"].count_documents({"last_seq": 1}) == len(threads)


async def test_a_batch_stopped_by_a_resend_counts_only_what_it_stored(
    batches: tuple[MessageStore, list[int]], db: Database
) -> None:
    """The thread's ``last_seq`` never names a message that is not stored: a device
    that starts a thread at ``last_seq`` (history "new"), or a receipt capped at it,
    would skip the message that later takes that seq. So the counter is raised only
    for what the ordered insert stored (the reason it is not written beside it)."""
    store, _ = batches
    first = await asyncio.wait_for(store.append(_message("first")), 10)
    # One batch: seqs 2, 3, 4 handed out; the resend stops the insert after seq 2.
    new, resent, after = await asyncio.wait_for(
        asyncio.gather(
            store.append(_message("new")),
            store.append(_message("first")),
            store.append(_message("after")),
        ),
        10,
    )
    assert (first.seq, new.seq, resent.seq, resent.duplicate, after.seq) == (1, 2, 1, True, 3)
    assert await store.last_positions(["thread-1", "no-such-thread"]) == {"thread-1": (3, after.at)}
    await store.counted()  # the counter is written after the acks
    thread = await ThreadStore(db).get("thread-1")
    assert thread is not None
    stored = sorted([doc["seq"] async for doc in db["messages"].find({"thread": "thread-1"})])
    assert (stored, thread.last_seq) == ([1, 2, 3], 3)


async def test_two_processes_writing_one_thread_keep_its_seqs_contiguous_and_counted(
    batches: tuple[MessageStore, list[int]], db: Database
) -> None:
    """Another process took the seq this one had cached: the insert hits the unique
    index, nothing after it is written, and the rest is retried with fresh seqs."""
    store, _ = batches
    other = MessageStore(db, ManualClock(), _stamp)
    other.start()
    try:
        assert (await asyncio.wait_for(store.append(_message("a1")), 10)).seq == 1
        assert (await asyncio.wait_for(other.append(_message("b1")), 10)).seq == 2
        # ``store`` still believes seq 2 is next.
        a2, a3 = await asyncio.wait_for(
            asyncio.gather(store.append(_message("a2")), store.append(_message("a3"))), 10
        )
        assert (a2.seq, a3.seq) == (3, 4)
        await asyncio.gather(store.counted(), other.counted())
    finally:
        await other.close()
    thread = await ThreadStore(db).get("thread-1")
    assert thread is not None
    stored = sorted([doc["seq"] async for doc in db["messages"].find({"thread": "thread-1"})])
    assert (stored, thread.last_seq) == ([1, 2, 3, 4], 4)
