"""The Redis broker's publisher: the caller never waits for Redis, what is queued
goes out in one pipeline, and a broker that shuts down sends what it still holds."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis

from chat_server.events import Event
from chat_server.fanout import RedisBroker
from chat_server.metrics import Metrics
from chat_server.settings import Settings


async def _listener(settings: Settings, account: str) -> tuple[aioredis.Redis, Any]:
    assert settings.redis_url is not None
    client = aioredis.Redis.from_url(settings.redis_url.reveal())
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(f"{settings.redis_prefix}acct:{account}")
    return client, pubsub


async def _received(pubsub: Any, count: int) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(10):
        while len(events) < count:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                events.append(json.loads(message["data"])["e"])
    return events


def _broker(client: aioredis.Redis, settings: Settings) -> RedisBroker:
    async def resync() -> None:
        return None

    return RedisBroker(client, settings.redis_prefix, Metrics(), lambda a, e: None, resync)


async def test_queued_events_are_published_in_order_and_flushed_on_close(
    settings: Settings,
) -> None:
    listener, pubsub = await _listener(settings, "acct-b")
    assert settings.redis_url is not None
    client = aioredis.Redis.from_url(settings.redis_url.reveal())
    broker = _broker(client, settings)
    await broker.start()
    try:
        events: list[Event] = [
            {"t": "msg", "thread": "t1", "seq": seq, "from": "dev-a"} for seq in range(1, 6)
        ]
        for event in events:
            await broker.publish(["acct-a", "acct-b"], event)
        assert broker.queued == 5  # queued, not sent: publish() returned at once
        await broker.close()  # before the publisher had a turn: close sends them
        assert await _received(pubsub, 5) == events
    finally:
        await pubsub.aclose()
        await listener.aclose()
        await client.aclose()
