"""A message write that no majority confirmed: its outcome is unknown, so nothing in
it is acked, the writer carries on, and the resend that finds it stored counts it in
its thread (so ``sync`` delivers it) and makes it durable before acking it.

MongoDB answers such a write with a *write concern error* (the document may well be
stored on the primary). A failover can cause one; here a write concern the session's
single-node replica set cannot satisfy (``w: 2``) causes it on demand, through the
real driver and server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from chat_server.clock import ManualClock
from chat_server.storage.messages import MessageStore, NewMessage, StoredMessage
from chat_server.storage.threads import ThreadStore

Database = AsyncDatabase[dict[str, Any]]


def _message(cmid: str) -> NewMessage:
    return NewMessage("thread-1", "ann", "ann-phone", cmid, "message", cmid.encode(), b"f" * 32)


def _stamp(record: StoredMessage) -> bytes:
    return b"s" * 32


@pytest.fixture
async def unconfirmed(
    mongo_client: AsyncMongoClient[dict[str, Any]], db: Database
) -> AsyncIterator[MessageStore]:
    """A store on the test database whose majority never confirms a write."""
    await ThreadStore(db).create(
        "thread-1", patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=ManualClock().now(),
    )  # fmt: skip
    unsatisfiable = mongo_client.get_database(
        db.name, write_concern=WriteConcern(w=2, wtimeout=1000)
    )
    store = MessageStore(unsatisfiable, ManualClock(), _stamp)
    store.start()
    yield store
    await store.close()


@pytest.fixture
async def store(db: Database) -> AsyncIterator[MessageStore]:
    """The same database with majority writes, as another server process sees it."""
    healthy = MessageStore(db, ManualClock(), _stamp)
    healthy.start()
    yield healthy
    await healthy.close()


async def test_an_unconfirmed_write_fails_the_send_and_the_writer_lives_on(
    unconfirmed: MessageStore,
) -> None:
    for cmid in ("first", "second"):
        with pytest.raises(BulkWriteError):
            await asyncio.wait_for(unconfirmed.append(_message(cmid)), 10)


async def test_a_duplicate_beside_an_unconfirmed_write_acks_nothing(
    unconfirmed: MessageStore,
) -> None:
    with pytest.raises(BulkWriteError):
        await asyncio.wait_for(unconfirmed.append(_message("first")), 10)
    # One batch: a new message (stored, unconfirmed) then a resend of "first".
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            unconfirmed.append(_message("new")),
            unconfirmed.append(_message("first")),
            return_exceptions=True,
        ),
        10,
    )
    assert [type(outcome) for outcome in outcomes] == [BulkWriteError, BulkWriteError]


async def test_the_resend_of_an_unconfirmed_write_counts_it_in_its_thread(
    unconfirmed: MessageStore, store: MessageStore, db: Database
) -> None:
    with pytest.raises(BulkWriteError):
        await asyncio.wait_for(unconfirmed.append(_message("first")), 10)
    threads = ThreadStore(db)
    stored_uncounted = await threads.get("thread-1")
    assert stored_uncounted is not None
    assert stored_uncounted.last_seq == 0  # stored (below), not counted yet
    assert await db["messages"].count_documents({"cmid": "first"}) == 1

    resent = await asyncio.wait_for(store.append(_message("first")), 10)
    assert (resent.seq, resent.duplicate) == (1, True)
    # Sync skips a thread whose last_seq is not past the device's cursor: an acked
    # message must be counted, or a device that missed its live push never gets it.
    thread = await threads.get("thread-1")
    assert thread is not None
    assert thread.last_seq == 1


async def test_a_sender_that_goes_away_mid_batch_does_not_stop_the_writer(
    store: MessageStore, db: Database
) -> None:
    await ThreadStore(db).create(
        "thread-1", patient_id="ann", provider_kind="practitioner", provider_id="doc",
        participants=["ann", "doc"], now=ManualClock().now(),
    )  # fmt: skip
    # A socket closing cancels its send while the batch is being written; the
    # message may still be stored (the client resends it and is told "duplicate").
    gone = asyncio.create_task(store.append(_message("gone")))
    await asyncio.sleep(0)
    gone.cancel()
    stored = await asyncio.wait_for(store.append(_message("after")), 10)
    assert stored.seq in (1, 2)
    again = await asyncio.wait_for(store.append(_message("gone")), 10)
    assert {again.seq, stored.seq} == {1, 2}
