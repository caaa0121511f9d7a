"""Live fan-out between server processes.

The hub delivers an event to the sockets of this process itself; a broker only carries
it to the *other* processes. Two brokers:

- :class:`LocalBroker` — a single process: nobody else to tell.
- :class:`RedisBroker` — Redis pub/sub on one channel per account
  (``{prefix}acct:{account_id}``). A process subscribes to the channels of the accounts
  that have a socket on it, and ignores what it published itself.

Events are small JSON objects of ids and numbers (``{"t": "msg", "thread": ..., "seq":
...}``, typed in :mod:`chat_server.events`): never plaintext, ciphertext or patient
data. Redis is never the source of truth: a lost event only delays delivery until the
device's next sync, so after a Redis reconnect the broker asks the hub to make every
local socket resync.

Publishing never holds up the caller (a send's ack waits for MongoDB, not for Redis):
:meth:`RedisBroker.publish` queues the event and returns, and one publisher task
writes whatever has queued up in one pipeline, so under load many events share a
round trip. If Redis is slow or stopped, events wait in that queue (at most
``MAX_QUEUED``; past it the oldest are dropped); events that could not be published
are owed to their accounts as one ``resync`` event, published once Redis answers
again, so those devices catch up by ``sync``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chat_server.events import Event
from chat_server.metrics import Metrics
from chat_server.schemas import json_bytes, json_object

log = logging.getLogger(__name__)

RemoteHandler = Callable[[str, Event], None]
# Events waiting for Redis; a stalled Redis drops the oldest past this (owed a resync).
MAX_QUEUED = 50_000
# On shutdown, how long what is still queued may take to go out.
FLUSH_ON_CLOSE_SECONDS = 1.0
ResyncHandler = Callable[[], Awaitable[None]]


class Broker(Protocol):
    name: str

    async def publish(self, account_ids: Iterable[str], event: Event) -> None: ...

    async def subscribe(self, account_id: str) -> None: ...

    async def unsubscribe(self, account_id: str) -> None: ...

    async def ready(self) -> bool: ...


class LocalBroker:
    name = "local"

    def __init__(self, metrics: Metrics) -> None:
        # Once per message: labels() costs several times the inc() itself.
        self._published = metrics.fanout_published.labels(self.name)

    async def publish(self, account_ids: Iterable[str], event: Event) -> None:
        self._published.inc()

    async def subscribe(self, account_id: str) -> None:
        return None

    async def unsubscribe(self, account_id: str) -> None:
        return None

    async def ready(self) -> bool:
        return True


class RedisBroker:
    name = "redis"

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        metrics: Metrics,
        on_event: RemoteHandler,
        on_resync: ResyncHandler,
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}acct:"
        self._metrics = metrics
        self._published = metrics.fanout_published.labels(self.name)
        self._on_event = on_event
        self._on_resync = on_resync
        # Tells our own publications apart when they come back to us.
        self._origin = secrets.token_hex(8)
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._channels: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._lost = False
        self._outbox: deque[tuple[list[str], Event]] = deque()
        self._queued = asyncio.Event()
        # Accounts whose events were dropped or failed: owed one ``resync`` event.
        self._owed: set[str] = set()
        self._publisher: asyncio.Task[None] | None = None
        # Set while nothing is queued, owed or on its way to Redis.
        self._drained = asyncio.Event()
        self._drained.set()

    def channel(self, account_id: str) -> str:
        return self._prefix + account_id

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-fanout-listener")
        self._publisher = asyncio.create_task(self._publish_loop(), name="redis-fanout-publisher")

    async def close(self) -> None:
        # Acked messages' publications go out first: their recipients on other
        # processes would otherwise wait for their next sync.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), FLUSH_ON_CLOSE_SECONDS)
        for task in (self._task, self._publisher):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    @property
    def queued(self) -> int:
        """Events waiting to be published."""
        return len(self._outbox)

    async def publish(self, account_ids: Iterable[str], event: Event) -> None:
        """Queues ``event`` for the other processes; never waits for Redis."""
        self._drained.clear()
        self._outbox.append((list(account_ids), event))
        if len(self._outbox) > MAX_QUEUED:
            dropped, _ = self._outbox.popleft()
            self._owed.update(dropped)
        self._queued.set()

    async def _publish_loop(self) -> None:
        backoff = 0.05
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self._outbox or self._owed:
                batch = list(self._outbox)
                self._outbox.clear()
                owed, self._owed = self._owed, set()
                if owed:
                    batch.append((sorted(owed), {"t": "resync"}))
                if await self._send(batch):
                    backoff = 0.05
                    continue
                # Delivery is delayed, not lost: these devices sync from MongoDB once
                # a resync reaches them. Wait before asking Redis again.
                for accounts, _ in batch:
                    self._owed.update(accounts)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            self._drained.set()

    async def _send(self, batch: list[tuple[list[str], Event]]) -> bool:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for accounts, event in batch:
                    data = json_bytes({"o": self._origin, "e": event})
                    for account_id in accounts:
                        pipe.publish(self.channel(account_id), data)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("fan-out publish failed", extra={"fields": {"error": type(exc).__name__}})
            return False
        self._published.inc(len(batch))
        return True

    async def subscribe(self, account_id: str) -> None:
        channel = self.channel(account_id)
        self._channels.add(channel)
        try:
            await self._pubsub.subscribe(channel)
        except (RedisError, OSError):
            self._lost = True  # the listener resubscribes everything when Redis is back

    async def unsubscribe(self, account_id: str) -> None:
        channel = self.channel(account_id)
        self._channels.discard(channel)
        try:
            await self._pubsub.unsubscribe(channel)
        except RedisError:
            pass

    async def ready(self) -> bool:
        try:
            return bool(await self._client.ping())
        except RedisError:
            return False

    async def _listen(self) -> None:
        backoff = 0.05
        this = asyncio.current_task()
        while True:
            if this is not None and this.cancelling():
                # redis-py may turn a cancellation that lands mid-connect into a
                # ConnectionError, which the retries below would swallow for ever.
                raise asyncio.CancelledError
            if self._lost:
                if not await self._resubscribe():
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                self._lost, backoff = False, 0.05
                # Anything published while we were away is gone: every local socket
                # is told to sync, which reads MongoDB, the source of truth.
                await self._on_resync()
            if not self._pubsub.subscribed:
                # Nothing to listen to yet; get_message would return at once.
                await asyncio.sleep(0.05)
                continue
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                log.warning(
                    "fan-out listener lost Redis", extra={"fields": {"error": type(exc).__name__}}
                )
                self._lost = True
                continue
            if message is not None and message.get("type") == "message":
                self._dispatch(message["channel"], message["data"])

    async def _resubscribe(self) -> bool:
        try:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            if self._channels:
                await self._pubsub.subscribe(*self._channels)
            else:
                await self._client.ping()
        except (RedisError, OSError):
            return False
        return True

    def _dispatch(self, channel: bytes | str, data: bytes | str) -> None:
        decoded = json_object(data)
        if decoded is None or "o" not in decoded or "e" not in decoded:
            log.warning("ignored malformed fan-out message")
            return
        origin, event = decoded["o"], decoded["e"]
        if origin == self._origin or not isinstance(event, dict):
            return
        name = channel.decode() if isinstance(channel, bytes) else channel
        self._metrics.fanout_received.inc()
        # Our own processes published it (the channels are ours alone): an Event.
        self._on_event(name.removeprefix(self._prefix), cast(Event, event))
