"""The message writer's group commit adapts to load: a lone send is written by
itself at once, and sends that arrive while a batch is being written share the next
``insert_many``, so a quiet server never waits out a batching window."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.storage.messages import MessageStore, NewMessage, StoredMessage
from chat_server.storage.mongo import make_client
from chat_server.storage.threads import ThreadStore
from tests.services import Services

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
    messages once, before any of its senders is answered; a resend gets nothing."""
    await ThreadStore(db).create(
        "thread-1", patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=ManualClock().now(),
    )  # fmt: skip
    calls: list[list[tuple[str, tuple[str, ...], int]]] = []
    appends: list[asyncio.Task[StoredMessage]] = []

    async def after_write(batch: list[tuple[NewMessage, StoredMessage]]) -> None:
        assert not any(task.done() for task in appends)
        calls.append([(new.client_msg_id, new.participants, s.seq) for new, s in batch])

    store = MessageStore(db, ManualClock(), _stamp, after_write=after_write)
    store.start()
    try:
        messages = [
            dataclasses.replace(_message(f"m{i}"), participants=("ann", "doc")) for i in range(5)
        ]
        appends.extend(asyncio.create_task(store.append(m)) for m in messages)
        await asyncio.wait_for(asyncio.gather(*appends), 10)
        assert calls == [[(f"m{i}", ("ann", "doc"), i + 1) for i in range(5)]]
        resent = await asyncio.wait_for(store.append(messages[0]), 10)
        assert resent.duplicate
        assert len(calls) == 1
    finally:
        await store.close()


class _Commands(monitoring.CommandListener):
    """What the driver sent, in order: (event, command name, collection, write concern)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, object, object]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        self.seen.append(
            (
                "started",
                event.command_name,
                command.get(event.command_name),
                command.get("writeConcern"),
            )
        )

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.seen.append(("succeeded", event.command_name, None, None))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.seen.append(("failed", event.command_name, None, None))


async def test_an_ack_waits_for_a_majority_write_issued_after_the_insert(
    db: Database, services: Services
) -> None:
    """One journal wait per batch: the insert is acknowledged by the primary alone, and
    the thread counters' majority write, sent once the insert succeeded, is what the
    sender waits for. A majority acknowledgement covers everything before it in the
    oplog, so the acked message is as durable as with a majority insert."""
    await ThreadStore(db).create(
        "thread-1", patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=ManualClock().now(),
    )  # fmt: skip
    commands = _Commands()
    client = make_client(services.mongo.uri, listeners=[commands])
    store = MessageStore(client[db.name], ManualClock(), _stamp)
    store.start()
    try:
        await asyncio.wait_for(store.append(_message("only")), 10)
        acked_after = len(commands.seen)
    finally:
        await store.close()
        await client.close()
    writes = [c for c in commands.seen[:acked_after] if c[1] in ("insert", "update")]
    assert writes == [
        ("started", "insert", "messages", {"w": 1}),
        ("succeeded", "insert", None, None),
        ("started", "update", "threads", {"w": "majority"}),
        ("succeeded", "update", None, None),
    ]
