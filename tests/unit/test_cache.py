"""ExpiringCache: one load per key however many callers miss at once."""

from __future__ import annotations

import asyncio

import pytest

from chat_server.cache import ExpiringCache


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
