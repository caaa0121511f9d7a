"""The watchers that tell an operator why acks are slow: loop lag and GC pauses."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time

from chat_server.metrics import GcWatch, Metrics, watch_loop_lag


def test_gc_watch_times_each_collection_by_generation_and_uninstalls() -> None:
    metrics = Metrics()
    registry = metrics.registry
    with GcWatch(metrics):
        gc.collect(0)
        gc.collect(2)
        young = registry.get_sample_value("carechat_gc_pause_seconds_count", {"generation": "0"})
        full = registry.get_sample_value("carechat_gc_pause_seconds_count", {"generation": "2"})
        assert (young or 0) >= 1
        assert (full or 0) >= 1
    gc.collect(2)
    after = registry.get_sample_value("carechat_gc_pause_seconds_count", {"generation": "2"})
    assert after == full


async def test_loop_lag_sees_a_blocked_loop() -> None:
    metrics = Metrics()
    watcher = asyncio.create_task(watch_loop_lag(metrics))
    try:
        await asyncio.sleep(0.15)  # one quiet probe
        time.sleep(0.3)  # a handler that blocks the loop  # noqa: ASYNC251
        await asyncio.sleep(0.15)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    count = metrics.registry.get_sample_value("carechat_event_loop_lag_seconds_count")
    quick = metrics.registry.get_sample_value(
        "carechat_event_loop_lag_seconds_bucket", {"le": "0.1"}
    )
    assert count is not None
    assert quick is not None
    assert count - quick >= 1  # the probe that waited out the blocking call
