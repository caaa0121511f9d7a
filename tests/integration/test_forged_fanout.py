"""Redis is a trust boundary: a fan-out event forged by someone who can publish there
delivers nothing to a socket whose account does not take part in the thread it names.

The attacker here is a plain Redis client with the server's credentials, publishing on
the victim's own channel in the broker's wire format (``chat_server/fanout.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import actor
from tests.integration.test_care_threads import _setup
from tests.messaging import Device, device

Client = TestClient[web.Request, web.Application]


class Forger:
    """Publishes events on an account's fan-out channel, as a process of ours would."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def channel(self, account_id: str) -> str:
        return f"{self.prefix}acct:{account_id}"

    async def listened(self, account_id: str) -> None:
        """Waits until a server process subscribed to the account's channel."""
        for _ in range(200):
            [(_, count)] = await self.redis.pubsub_numsub(self.channel(account_id))
            if count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("nobody subscribed to the channel")

    async def publish(self, account_id: str, event: dict[str, Any]) -> None:
        data = json.dumps({"o": "forged-origin", "e": event})
        await self.redis.publish(self.channel(account_id), data)


@pytest.fixture
async def forger(settings: Settings) -> AsyncIterator[Forger]:
    assert settings.redis_url is not None
    redis = aioredis.Redis.from_url(settings.redis_url.reveal())
    yield Forger(redis, settings.redis_prefix)
    await redis.aclose()


async def _nothing_before_resync(forger: Forger, target: Device) -> None:
    """Publishes a ``resync`` last: events on a channel arrive in order, so if it is
    the first frame the socket gets, nothing forged before it was pushed."""
    await forger.publish(target.actor.account_id, {"t": "resync"})
    assert (await target.frame())["type"] == "resync"


async def test_a_forged_event_reaches_no_socket_of_a_non_participant(
    client: Client, outbox: MemoryOutbox, forger: Forger
) -> None:
    doctor, ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    await ann_phone.send_text(thread_id, "Private: my test results", everyone)
    await doc_pc.next_of("msg", seq=1)
    eve = await actor(client, outbox, "eve@example.org")
    eve_pc = await device(eve, "eve-pc")
    await eve_pc.connect()
    await forger.listened(eve.account_id)

    # On Eve's own channel, events about a thread she is not in.
    victim_thread = {"thread": thread_id}
    for event in (
        {"t": "msg", **victim_thread, "seq": 1, "from": None},
        {"t": "receipt", **victim_thread, "account": ann.account_id, "seq": 1},
        {"t": "delivered", **victim_thread, "account": ann.account_id, "seq": 1},
        {"t": "typing", **victim_thread, "account": ann.account_id},
        # Not even when it names her as the one who read or typed.
        {"t": "receipt", **victim_thread, "account": eve.account_id, "seq": 1},
        {"t": "typing", **victim_thread, "account": eve.account_id},
        {"t": "thread", **victim_thread},
        # A panel she is not on, a mailing that was never delivered to her.
        {"t": "queue", "panel": "p" * 22},
        {"t": "announcement", "campaign": "flu-2026-campaign-01", "practice": "p" * 22},
        # Malformed fields are refused, not pushed as they came.
        {"t": "msg", "thread": ["x"], "seq": "1", "from": None},
        {"t": "announcement", "campaign": 7, "practice": None},
    ):
        await forger.publish(eve.account_id, event)
    await _nothing_before_resync(forger, eve_pc)

    # A participant's socket: a message that does not exist at that position, and a
    # receipt or typing notice naming someone who is not in the thread, push nothing.
    await forger.listened(doctor.account_id)
    doc_pc.backlog.clear()
    for event in (
        {"t": "msg", **victim_thread, "seq": 99, "from": None},
        {"t": "receipt", **victim_thread, "account": eve.account_id, "seq": 1},
        {"t": "typing", **victim_thread, "account": eve.account_id},
        {"t": "delivered", **victim_thread, "account": ann.account_id, "seq": -1},
    ):
        await forger.publish(doctor.account_id, event)
    await _nothing_before_resync(forger, doc_pc)

    # The same channel does carry what checks out against MongoDB: a participant gets
    # the stored message of her own thread (so the refusals above are the checks').
    await forger.publish(doctor.account_id, {"t": "msg", **victim_thread, "seq": 1, "from": None})
    pushed = await doc_pc.frame()
    assert (pushed["type"], pushed["thread"], pushed["seq"]) == ("msg", thread_id, 1)


async def test_malformed_fan_out_messages_are_ignored_and_the_channel_goes_on(
    client: Client, outbox: MemoryOutbox, forger: Forger
) -> None:
    eve = await actor(client, outbox, "eve@example.org")
    eve_pc = await device(eve, "eve-pc")
    await eve_pc.connect()
    await forger.listened(eve.account_id)
    channel = forger.channel(eve.account_id)
    for data in (b"not json", b"[1, 2]", b'{"o": "x"}', b'{"e": {"t": "resync"}}', b"\xff{}"):
        await forger.redis.publish(channel, data)
    await _nothing_before_resync(forger, eve_pc)
