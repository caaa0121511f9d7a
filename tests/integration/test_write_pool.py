"""The group-committed writers have a MongoDB pool of their own (storage.mongo).

With every connection of the main pool held by slow reads, a send is still stored by
a majority and acked: it does not queue behind the reads for a connection.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.appkeys import DB
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.integration.test_care_threads import _setup

Client = TestClient[web.Request, web.Application]

POOL = 4
# Server-side JavaScript that holds its connection for this long.
SLOW_READ = {"$where": "sleep(2000) || true"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, mongodb_pool_size=POOL)


async def test_a_send_is_acked_while_slow_reads_hold_every_pooled_connection(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, _ann, _doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    # Warm the send path's caches (thread access, devices): the next send reads nothing.
    assert (await ann_phone.send_text(thread_id, "first", everyone))["type"] == "ack"

    db = client.app[DB]
    await db.probe.insert_one({"slow": True})
    readers = [asyncio.create_task(db.probe.find_one(SLOW_READ)) for _ in range(2 * POOL)]
    try:
        await asyncio.sleep(0.5)  # they check every connection out, the rest queue
        assert not any(reader.done() for reader in readers)
        ack = await ann_phone.send_text(thread_id, "second", everyone)
        assert (ack["type"], ack["seq"]) == ("ack", 2)
        # Acked before any of the reads gave its connection back.
        assert not any(reader.done() for reader in readers)
    finally:
        await asyncio.gather(*readers)
