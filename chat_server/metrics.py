"""Prometheus metrics, one registry per app (no module-global state, tests stay isolated).

Labels are bounded: routes by their declared name, frame types from the protocol's
fixed list, error codes from :class:`~chat_server.errors.ErrorCode`. Nothing here ever
carries an account, a thread id or a message.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from bisect import bisect_left
from collections.abc import Iterator
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Metric
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from pymongo import monitoring


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        latency = partial(Histogram, registry=r, buckets=_LATENCY_BUCKETS)
        self.http_requests = Counter(
            "carechat_http_requests",
            "HTTP requests served",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "carechat_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.ws_connections = Gauge(
            "carechat_ws_connections", "Open WebSocket connections", registry=r
        )
        # carechat_ws_frames_in and carechat_ws_frame_seconds, by frame type.
        self._frames = FrameTally(_LATENCY_BUCKETS)
        r.register(self._frames)
        self.ws_errors = Counter(
            "carechat_ws_errors", "WebSocket error frames and closes", ["code"], registry=r
        )
        self.ws_slow_disconnects = Counter(
            "carechat_ws_slow_disconnects",
            "Sockets closed because their send queue was full",
            registry=r,
        )
        self.messages_stored = Counter(
            "carechat_messages_stored", "Messages durably stored", registry=r
        )
        # Where a slow ack comes from: the group-committed message write, the cursor
        # bulk write, or an event loop that did not get to run.
        self.message_batch_latency = latency(
            "carechat_message_batch_seconds",
            "One group-committed message write, majority-acknowledged",
        )
        self.cursor_flush_latency = latency(
            "carechat_cursor_flush_seconds",
            "One bulk write of buffered delivery cursors",
        )
        self.gc_pause = latency(
            "carechat_gc_pause_seconds",
            "Python garbage collections, by generation (the whole loop waits for each)",
            ["generation"],
        )
        self.loop_lag = latency(
            "carechat_event_loop_lag_seconds",
            "How late a timer on the event loop fired (time the loop was busy or stalled)",
        )
        self.fanout_published = Counter(
            "carechat_fanout_published", "Fan-out events published", ["broker"], registry=r
        )
        self.fanout_received = Counter(
            "carechat_fanout_received",
            "Fan-out events received from other processes",
            registry=r,
        )
        self.jobs_run = Counter(
            "carechat_jobs_run", "Background job runs", ["kind", "outcome"], registry=r
        )
        # Resources a soak watches for leaks.
        self.loop_tasks = Gauge(
            "carechat_event_loop_tasks", "asyncio tasks alive in this process", registry=r
        )
        self.loop_tasks.set_function(_count_tasks)
        self.mongodb_connections = Gauge(
            "carechat_mongodb_connections", "Open MongoDB pool connections", registry=r
        )
        # Open connections follow the load (idle ones close after a while); a leaked one
        # is checked out and never returned, which only this count shows.
        self.mongodb_connections_in_use = Gauge(
            "carechat_mongodb_connections_in_use",
            "MongoDB pool connections checked out by a query right now",
            registry=r,
        )

    def frame_in(self, frame_type: str) -> None:
        self._frames.received(frame_type)

    def frame_answered(self, frame_type: str, seconds: float) -> None:
        self._frames.answered(frame_type, seconds)

    def message_batch(self, stored: int, seconds: float) -> None:
        self.messages_stored.inc(stored)
        self.message_batch_latency.observe(seconds)


class FrameTally(Collector):
    """WebSocket frames received and answered, by type, in plain integers exported at
    scrape time, as a counter and a histogram. Twice per message: prometheus_client's
    own took 1.8 µs a frame (a lock and a walk over the buckets per observation), this
    0.5 µs; the exposition is the same but for the ``_created`` series, which nothing
    here reads. Plain integers are safe because the event loop's thread is the only one
    that counts and scrapes (``rest/health.py``)."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self._bounds = buckets
        self._received: dict[str, int] = {}
        # Per type: the count in each bucket (the last: above every bound), and the sum.
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def received(self, frame_type: str) -> None:
        self._received[frame_type] = self._received.get(frame_type, 0) + 1

    def answered(self, frame_type: str, seconds: float) -> None:
        counts = self._counts.get(frame_type)
        if counts is None:
            counts = self._counts[frame_type] = [0] * (len(self._bounds) + 1)
            self._sums[frame_type] = 0.0
        # The first bound at or above: Prometheus buckets count what is <= their bound.
        counts[bisect_left(self._bounds, seconds)] += 1
        self._sums[frame_type] += seconds

    def collect(self) -> Iterator[Metric]:
        received = CounterMetricFamily(
            "carechat_ws_frames_in", "WebSocket frames received", labels=["type"]
        )
        for frame_type, count in self._received.items():
            received.add_metric([frame_type], count)
        yield received
        latency = HistogramMetricFamily(
            "carechat_ws_frame_seconds",
            "From a frame's arrival to its answer (a send: to its ack, stored by a majority)",
            labels=["type"],
        )
        # As prometheus_client writes its bounds (``floatToGoString``, for these values).
        edges = [repr(float(b)) for b in self._bounds] + ["+Inf"]
        for frame_type, counts in self._counts.items():
            cumulative = list(itertools.accumulate(counts))
            latency.add_metric(
                [frame_type], list(zip(edges, cumulative, strict=True)), self._sums[frame_type]
            )
        yield latency


_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
)  # fmt: skip

LOOP_PROBE_SECONDS = 0.1


class GcWatch:
    """Times each garbage collection while installed (``gc.callbacks`` is global)."""

    def __init__(self, metrics: Metrics) -> None:
        self._by_generation = [metrics.gc_pause.labels(str(g)) for g in range(3)]
        self._started = 0.0

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        # A collection can start anywhere, even at the recursion limit (a fuzzer's
        # deeply nested JSON): a callback that raised there would be reported as an
        # unraisable exception, so a pause that cannot be timed is skipped.
        try:
            if phase == "start":
                self._started = time.perf_counter()
            else:
                elapsed = time.perf_counter() - self._started
                self._by_generation[info["generation"]].observe(elapsed)
        except RecursionError:
            pass


async def watch_loop_lag(metrics: Metrics) -> None:
    """Runs until cancelled: a timer every 100 ms, and how late each one fired.

    A loop that is late by more than a frame's budget points at CPU-bound work (or a
    starved process) rather than at MongoDB, which is what an operator needs to know
    first when acks slow down.
    """
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LOOP_PROBE_SECONDS
        await asyncio.sleep(LOOP_PROBE_SECONDS)
        metrics.loop_lag.observe(max(0.0, loop.time() - due))


def _count_tasks() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # scraped outside the loop (a test reading the registry)
        return 0.0


class PoolGauge(monitoring.ConnectionPoolListener):
    """Counts PyMongo's pooled connections into ``carechat_mongodb_connections``."""

    def __init__(self, metrics: Metrics) -> None:
        self._gauge = metrics.mongodb_connections
        self._in_use = metrics.mongodb_connections_in_use

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        self._gauge.inc()

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        self._gauge.dec()

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None: ...
    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None: ...
    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None: ...
    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None: ...
    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None: ...
    def connection_check_out_started(
        self, event: monitoring.ConnectionCheckOutStartedEvent
    ) -> None: ...
    def connection_check_out_failed(
        self, event: monitoring.ConnectionCheckOutFailedEvent
    ) -> None: ...
    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        self._in_use.inc()

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        self._in_use.dec()
