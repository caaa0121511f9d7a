"""ExpiringCache: one load per key however many callers miss at once. CountedCache:
entries kept until a change count moves, the count asked once per poll."""

from __future__ import annotations

import asyncio

import pytest

from chat_server.cache import CountedCache, ExpiringCache


class Source:
    """Counts loads; each waits for ``release`` so tests can hold them in flight."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False
        self.version = 0

    async def load(self, key: str) -> str:
        self.loads.append(key)
        await self.release.wait()
        if self.fail:
            raise LookupError(key)
        return f"{key}@{self.version}"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def cache_of(source: Source, clock: Clock, **kwargs: object) -> ExpiringCache[str, str]:
    options: dict[str, object] = {"ttl": 30.0, "max_entries": 100, "jitter": 0.0, **kwargs}
    return ExpiringCache(source.load, now=clock, **options)  # type: ignore[arg-type]


async def test_concurrent_misses_share_one_load_and_the_value_lives_ttl_seconds() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock)
    source.release.clear()
    waiting = [asyncio.create_task(cache.get("a")) for _ in range(50)]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*waiting) == ["a@0"] * 50
    assert source.loads == ["a"]

    source.version = 1
    clock.t += 29.9
    assert await cache.get("a") == "a@0"
    clock.t += 0.2
    assert await cache.get("a") == "a@1"
    assert source.loads == ["a", "a"]


async def test_fresh_always_loads_and_refreshes_the_entry() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock)
    assert await cache.get("a") == "a@0"
    source.version = 1
    assert await cache.get("a", fresh=True) == "a@1"
    assert await cache.get("a") == "a@1"
    assert len(source.loads) == 2


async def test_forget_drops_the_entry_and_a_load_already_under_way() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock)
    source.release.clear()
    early = asyncio.create_task(cache.get("a"))
    await asyncio.sleep(0)
    cache.forget("a")  # the value being loaded may predate the change
    source.version = 1
    later = asyncio.create_task(cache.get("a"))
    await asyncio.sleep(0)
    source.release.set()
    assert await early == "a@1"  # both loads finish after the change here
    assert await later == "a@1"
    assert source.loads == ["a", "a"]
    source.version = 2
    assert await cache.get("a") == "a@1"  # the later load's value was kept
    cache.forget("a")
    assert await cache.get("a") == "a@2"


async def test_values_keep_refuses_are_shared_but_not_kept() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock, keep=lambda value: value.startswith("keep"))
    source.release.clear()
    both = [asyncio.create_task(cache.get("drop")) for _ in range(2)]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*both) == ["drop@0", "drop@0"]
    assert await cache.get("drop") == "drop@0"
    assert source.loads == ["drop", "drop"]
    assert len(cache) == 0


async def test_a_failed_load_fails_every_waiter_and_is_not_kept() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock)
    source.fail = True
    source.release.clear()
    waiting = [asyncio.create_task(cache.get("a")) for _ in range(3)]
    await asyncio.sleep(0)
    source.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)
    source.fail = False
    assert await cache.get("a") == "a@0"
    assert source.loads == ["a", "a"]


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock)
    source.release.clear()
    impatient = asyncio.create_task(cache.get("a"))
    patient = asyncio.create_task(cache.get("a"))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    source.release.set()
    assert await patient == "a@0"
    assert source.loads == ["a"]


async def test_the_oldest_entries_go_first_past_the_bound() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock, max_entries=2)
    for key in ("a", "b", "c"):
        await cache.get(key)
    assert len(cache) == 2
    await cache.get("b")
    await cache.get("a")  # evicted: loads again
    assert source.loads == ["a", "b", "c", "a"]


async def test_entries_loaded_together_expire_at_different_times() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock, jitter=0.25, max_entries=1_000)
    keys = [f"k{i}" for i in range(200)]
    for key in keys:
        await cache.get(key)
    expired_at: dict[str, float] = {}
    for step in range(40):  # from 22 s to 32 s, in steps of 0.25 s
        clock.t = 100.0 + 22.0 + step * 0.25
        for key in keys:
            if key not in expired_at and await cache.get(key) != f"{key}@0":
                expired_at[key] = clock.t
        source.version += 1
    assert set(expired_at) == set(keys)  # all gone by the full ttl
    assert min(expired_at.values()) >= 100.0 + 22.5 - 1e-9  # none before ttl * (1 - jitter)
    assert len(set(expired_at.values())) > 20  # spread, not one burst


async def test_clear_drops_every_entry_and_keeps_loads_under_way_from_storing() -> None:
    loads: list[str] = []
    gate = asyncio.Event()

    async def load(key: str) -> str:
        loads.append(key)
        await gate.wait()
        return key.upper()

    cache = ExpiringCache[str, str](load, ttl=60, max_entries=10, now=Clock())
    gate.set()
    assert await cache.get("a") == "A"
    gate.clear()
    pending = asyncio.create_task(cache.get("b"))
    await asyncio.sleep(0)
    cache.clear()
    gate.set()
    assert await pending == "B"
    assert len(cache) == 0
    assert await cache.get("a") == "A"
    assert loads == ["a", "b", "a"]


class Counter:
    """A stored change count, with how often it was asked."""

    def __init__(self) -> None:
        self.n = 0
        self.reads = 0

    async def read(self) -> int:
        self.reads += 1
        return self.n


def counted_of(source: Source, counter: Counter, clock: Clock) -> CountedCache[str, str]:
    return CountedCache(
        source.load, count=counter.read, poll=5.0, keep_for=600.0, max_entries=100, now=clock
    )


async def test_a_counted_cache_keeps_entries_until_the_count_moves_asking_once_per_poll() -> None:
    source, counter, clock = Source(), Counter(), Clock()
    cache = counted_of(source, counter, clock)
    assert [await cache.get(k) for k in ("a", "b", "a", "b")] == ["a@0", "b@0", "a@0", "b@0"]
    assert counter.reads == 1
    # Changed behind its back with no count: kept, long past any timer but keep_for.
    source.version = 1
    for _ in range(20):
        clock.t += 20.0
        assert await cache.get("a") == "a@0"
    assert source.loads == ["a", "b"]
    assert counter.reads == 21  # one read per poll, however many gets
    # The count moves: within one poll every entry is dropped and loaded again.
    counter.n = 1
    assert await cache.get("a") == "a@0"
    clock.t += 5.0
    assert await cache.get("a") == "a@1"
    assert await cache.get("b") == "b@1"
    assert source.loads == ["a", "b", "a", "b"]
    # keep_for still bounds an entry whose change was never counted.
    source.version = 2
    clock.t += 600.0
    assert await cache.get("a") == "a@2"


async def test_a_counted_cache_keeps_a_load_begun_before_the_count_moved_from_storing() -> None:
    stored = {"a": 0}
    started, release = asyncio.Event(), asyncio.Event()

    async def load(key: str) -> int:
        value = stored[key]  # read before the change below...
        started.set()
        await release.wait()  # ...and answered after it
        return value

    counter, clock = Counter(), Clock()
    cache = CountedCache[str, int](
        load, count=counter.read, poll=5.0, keep_for=600.0, max_entries=10, now=clock
    )
    pending = asyncio.create_task(cache.get("a"))
    await started.wait()
    stored["a"], counter.n, clock.t = 1, 1, clock.t + 5.0
    release.set()
    await asyncio.sleep(0)
    assert await cache.get("a") == 1  # the count moved: the stale load is not shared
    assert await pending == 0  # its own caller still gets what it read
    assert await cache.get("a") == 1  # and it was not kept


async def test_forget_drops_one_entry_of_a_counted_cache() -> None:
    source, counter, clock = Source(), Counter(), Clock()
    cache = counted_of(source, counter, clock)
    await cache.get("a")
    await cache.get("b")
    source.version = 1
    cache.forget("a")
    assert await cache.get("a") == "a@1"
    assert await cache.get("b") == "b@0"


async def test_peek_answers_a_live_entry_without_loading() -> None:
    source, clock = Source(), Clock()
    cache = cache_of(source, clock)
    assert cache.peek("a") is None
    await cache.get("a")
    entry = cache.peek("a")
    assert entry is not None
    assert entry[1] == "a@0"
    clock.t += 30.0
    assert cache.peek("a") is None
    assert source.loads == ["a"]


async def test_a_counted_cache_peeks_only_while_its_count_needs_no_asking() -> None:
    source, counter, clock = Source(), Counter(), Clock()
    cache = counted_of(source, counter, clock)
    assert cache.peek("a") is None  # the count never asked: nothing can be trusted yet
    assert await cache.get("a") == "a@0"
    entry = cache.peek("a")
    assert entry is not None
    assert entry[1] == "a@0"
    assert cache.peek("b") is None  # not loaded, and peeking never loads
    assert source.loads == ["a"]
    clock.t += 5.0
    assert cache.peek("a") is None  # the count is due: only get asks it
    assert counter.reads == 1
    counter.n = 1
    assert await cache.get("a") == "a@0"  # it moved: everything dropped, "a" loaded again
    assert source.loads == ["a", "a"]
    assert cache.peek("a") is not None
