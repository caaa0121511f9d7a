"""A small in-process cache for the send path: entries expire, loads are shared.

Sends arrive in bursts: a thousand devices reconnect and each sends its queue, and
every one of those sends asks about the same few threads and accounts. Without
sharing, each concurrent miss is its own MongoDB query (a thundering herd that made
the first seconds of every benchmark phase slower than the rest); here concurrent
misses of one key wait for a single load, and entries loaded together expire at
different times: in the soak, 1,500 entries expiring at once every 30 s took every
MongoDB connection and stalled sends for seconds.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """Values of ``load(key)`` kept up to ``ttl`` seconds (each entry loses a random
    share of up to ``jitter``), at most ``max_entries`` (least recently loaded first
    out). ``keep`` decides which values are worth keeping; a
    value it refuses is still shared by the callers that waited for its load."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        *,
        ttl: float,
        max_entries: int,
        now: Callable[[], float],
        keep: Callable[[V], bool] = lambda _: True,
        jitter: float = 0.25,
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._max_entries = max_entries
        self._now = now
        self._keep = keep
        self._jitter = jitter
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._loading: dict[K, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: K, *, fresh: bool = False) -> V:
        """The cached value, or a load; ``fresh`` always loads (and is not shared with
        a load that began earlier, which may predate what the caller knows)."""
        if not fresh:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._now():
                return entry[1]
            loading = self._loading.get(key)
            if loading is not None:
                # Shielded: one caller giving up must not cancel the others' load.
                return await asyncio.shield(loading)
        task = asyncio.create_task(self._fill(key))
        task.add_done_callback(_observe)
        self._loading[key] = task
        return await asyncio.shield(task)

    def peek(self, key: K) -> tuple[float, V] | None:
        """The live entry (expiry, value) without awaiting anything, or None: the send
        path asks several caches per message, and most answers are already here."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._now():
            return entry
        return None

    def forget(self, key: K) -> None:
        """Drop the entry, and keep a load already under way from storing its value."""
        self._entries.pop(key, None)
        self._loading.pop(key, None)

    def clear(self) -> None:
        """:meth:`forget` every key."""
        self._entries.clear()
        self._loading.clear()

    async def _fill(self, key: K) -> V:
        started = self._now()
        this = asyncio.current_task()
        try:
            value = await self._load(key)
        except BaseException:
            if self._loading.get(key) is this:
                del self._loading[key]
            raise
        if self._loading.get(key) is this:
            del self._loading[key]
            if self._keep(value):
                # Aged from the start of the load (the value is at least that old), and
                # some entries go sooner than others: entries loaded together would
                # otherwise expire together, and reload in a burst every ``ttl``.
                life = self._ttl * (1 - self._jitter * random.random())  # noqa: S311
                self._entries[key] = (started + life, value)
                self._entries.move_to_end(key)
                if len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        return value


class CountedCache(Generic[K, V]):
    """An :class:`ExpiringCache` whose entries are all dropped when a stored change
    count moves (``storage/change_counts.py``): the count is asked at most every
    ``poll`` seconds, by one caller at a time, so a change made on another process
    applies here within ``poll`` seconds, at the cost of one query per ``poll`` per
    process rather than one per entry. Entries still expire after ``keep_for``, in case
    a change was written and its count was not (a process stopped between the two)."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        *,
        count: Callable[[], Awaitable[int]],
        poll: float,
        keep_for: float,
        max_entries: int,
        now: Callable[[], float],
        keep: Callable[[V], bool] = lambda _: True,
    ) -> None:
        self._entries = ExpiringCache[K, V](
            load, ttl=keep_for, max_entries=max_entries, now=now, keep=keep
        )
        self._count = ExpiringCache[None, int](
            lambda _: count(), ttl=poll, max_entries=1, now=now, jitter=0.0
        )
        self._seen: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: K) -> tuple[float, V] | None:
        """The live entry (expiry, value) if it can be trusted without asking the
        count now (asked less than ``poll`` ago, unchanged); None: ask :meth:`get`."""
        counted = self._count.peek(None)
        if counted is None or counted[1] != self._seen:
            return None
        return self._entries.peek(key)

    async def get(self, key: K, *, fresh: bool = False) -> V:
        # The common case (the count asked less than ``poll`` ago, the entry kept)
        # answers without creating a coroutine: a few µs per message.
        counted = self._count.peek(None)
        if counted is None or counted[1] != self._seen:
            count = await self._count.get(None)
            if count != self._seen:
                # Changed somewhere since we last looked (or our first look): what we
                # kept may be stale, and loads under way may have read before it.
                self._entries.clear()
                self._seen = count
        if not fresh:
            entry = self._entries.peek(key)
            if entry is not None:
                return entry[1]
        return await self._entries.get(key, fresh=fresh)

    def forget(self, key: K) -> None:
        """Drop one entry at once (a change made by this process)."""
        self._entries.forget(key)


def _observe(task: asyncio.Task[object]) -> None:
    # Every waiter may have gone; the failure was theirs to see, not asyncio's to log.
    if not task.cancelled():
        task.exception()
