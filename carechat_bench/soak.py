"""``carechat bench --soak MINUTES``: steady load, watching for leaks and loss.

1:1 threads across 1,000 devices at a steady rate, in windows of ``window_seconds``.
After each window it samples the server: RSS, open files, asyncio tasks, MongoDB
pool connections and open sockets (the last three from /metrics), and checks that
every message of the window was delivered exactly once, and how much CPU the
hypervisor stole meanwhile (a stall of the whole VM is not the server's). At the end
it compares the last third of the samples with the first third (after a warm-up
window): a resource that keeps growing is a leak, whatever its absolute size. MongoDB
pools, which follow the load by design, must instead stay under their cap, and after a
rest without load no connection may still be checked out (a leaked connection is never
returned; an idle one is, and how many stay open then follows the resting server's
periodic work on its 1,000 connected sockets).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from carechat_bench.processes import (
    CareChatServer,
    LoaderProcess,
    machine_cpu_ticks,
    metrics_text,
    open_files,
    rss_bytes,
)
from carechat_bench.runner import base_env, check_phase, seed_roster
from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.embedded.redis_server import LocalRedis
from chat_server.settings import Settings
from chat_server.storage.mongo import WRITER_POOL_SIZE

WATCHED = (
    "carechat_event_loop_tasks",
    "carechat_mongodb_connections",
    "carechat_mongodb_connections_in_use",
    "carechat_ws_connections",
)
# The server's own view of each window, from its histograms: when the load generator
# sees a slow window, these tell a server stall (which part) from a loader stall.
STAGES = {
    "ack_p99_ms": ("carechat_ws_frame_seconds", {"type": "send"}),
    "batch_max_ms": ("carechat_message_batch_seconds", {}),
    "cursors_max_ms": ("carechat_cursor_flush_seconds", {}),
    "lag_max_ms": ("carechat_event_loop_lag_seconds", {}),
    "gc2_max_ms": ("carechat_gc_pause_seconds", {"generation": "2"}),
}
# How much a resource may grow from the first third to the last before it is a leak.
TOLERANCE = {"rss_mib": 0.10, "open_files": 0.05}
# MongoDB pools follow the load: a stall fills them to their cap (the main pool's plus
# the writers' 4) and idle connections close after this long, so a pool is judged by
# its cap under load and by its size once it has rested, not by the thirds.
_DEFAULTS = Settings()  # what the soak's server runs with
POOL_CAP = _DEFAULTS.mongodb_pool_size + WRITER_POOL_SIZE
POOL_REST_SECONDS = _DEFAULTS.mongodb_pool_idle_seconds + 10
REST_SAMPLES = 5


@dataclass(frozen=True)
class Rested:
    """The pools at the end of the rest: the fewest connections in use in any sample
    (a leaked one is in use in all of them) and the most open."""

    in_use: float
    open: float

    @classmethod
    def of(cls, scrapes: list[dict[str, float]]) -> Rested:
        return cls(
            in_use=min(s["mongodb_connections_in_use"] for s in scrapes),
            open=max(s["mongodb_connections"] for s in scrapes),
        )


@dataclass(frozen=True, slots=True)
class SoakOptions:
    minutes: float
    redis: bool = False
    rate: float = 600.0
    pairs: int = 500
    window_seconds: float = 10.0
    command: str = "carechat bench --soak"


def soak(options: SoakOptions) -> int:
    windows = max(3, math.ceil(options.minutes * 60 / options.window_seconds))
    per_device = max(1, math.ceil(options.rate * options.window_seconds / (options.pairs * 2)))
    samples: list[dict[str, float]] = []
    lost = 0
    with (
        tempfile.TemporaryDirectory(prefix="carechat-soak-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        os.chmod(workdir, 0o700)
        mongo = stack.enter_context(EmbeddedMongo(workdir / "mongo", cache_gb=1.0))
        env = base_env(mongo.uri)
        if options.redis:
            env["CARECHAT_REDIS_URL"] = stack.enter_context(LocalRedis()).url
        roster = seed_roster(mongo.uri, options.pairs, team=2)
        roster_path = workdir / "roster.json"
        roster_path.write_text(json.dumps(roster.to_json()))
        server = stack.enter_context(CareChatServer(workdir / "server", env))
        loader = stack.enter_context(LoaderProcess(workdir))
        loader.call("start", base_url=server.url, roster=str(roster_path))
        loader.call("setup")
        loader.call("connect", group="pairs")
        started = time.monotonic()
        before = _buckets(server.metrics_url)
        ticks = machine_cpu_ticks()
        for window in range(windows):
            loader.call("seal", group="pairs", per_device=per_device)
            phase = loader.call("open", group="pairs", rate=options.rate, patience=60.0)
            try:
                check_phase(phase, f"window {window + 1}")
            except RuntimeError as exc:
                print(f"  LOSS: {exc}", flush=True)
                lost += phase["expected"] - phase["delivered"]
            sample = {
                "minute": (time.monotonic() - started) / 60,
                "rss_mib": rss_bytes(server.pid) / (1 << 20),
                "open_files": float(open_files(server.pid)),
                **_scrape(server.metrics_url),
                "p99_ms": phase["p99_ms"],
            }
            after = _buckets(server.metrics_url)
            sample.update(_window_stages(before, after))
            before = after
            ticks, previous = machine_cpu_ticks(), ticks
            sample["steal_pct"] = _share(ticks, previous)
            samples.append(sample)
            print("  " + "  ".join(f"{k}={v:,.1f}" for k, v in sample.items()), flush=True)
        print(f"  resting {POOL_REST_SECONDS:.0f} s without load ...", flush=True)
        time.sleep(POOL_REST_SECONDS - REST_SAMPLES)
        rested = []
        for _ in range(REST_SAMPLES):  # a second apart: a query caught in flight returns
            rested.append(_scrape(server.metrics_url))
            time.sleep(1.0)
    return _verdict(samples, lost, Rested.of(rested))


def _scrape(url: str) -> dict[str, float]:
    text = metrics_text(url)
    found: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in WATCHED:
            found[name.removeprefix("carechat_")] = float(value)
    return found


Buckets = dict[str, list[tuple[float, float]]]


def _buckets(url: str) -> Buckets:
    """Each watched histogram's cumulative (upper bound, count) pairs."""
    text = metrics_text(url)
    found: Buckets = {key: [] for key in STAGES}
    by_name = {name: (key, labels) for key, (name, labels) in STAGES.items()}
    for family in text_string_to_metric_families(text):
        if family.name not in by_name:
            continue
        key, labels = by_name[family.name]
        for sample in family.samples:
            if sample.name.endswith("_bucket") and labels.items() <= sample.labels.items():
                found[key].append((float(sample.labels["le"]), sample.value))
    return found


def _window_stages(before: Buckets, after: Buckets) -> dict[str, float]:
    """Per stage, in milliseconds: the p99 (ack) or the worst bucket reached in the
    window, as the bucket's upper bound (a histogram knows no finer)."""
    figures: dict[str, float] = {}
    for key in STAGES:
        counts = dict(before[key])
        deltas = [(le, n - counts.get(le, 0.0)) for le, n in after[key]]
        total = deltas[-1][1] if deltas else 0.0
        wanted = total * 0.99 if key.endswith("p99_ms") else total
        bound = next((le for le, n in deltas if total and n >= wanted), 0.0)
        figures[key] = bound * 1000
    return figures


def _pool_failures(steady: list[dict[str, float]], rested: Rested) -> list[str]:
    """A leaked connection is never returned, so it is still in use after the rest;
    none may pass the cap."""
    pool = [s["mongodb_connections"] for s in steady]
    print(
        f"{'mongodb_connections':28} max under load {max(pool):,.0f} (cap {POOL_CAP})   "
        f"after resting {rested.open:,.0f} open, {rested.in_use:,.0f} in use (at most 0)"
    )
    failures = []
    if max(pool) > POOL_CAP:
        failures.append(f"mongodb_connections reached {max(pool):,.0f} (cap {POOL_CAP})")
    if rested.in_use > 0:
        failures.append(f"{rested.in_use:,.0f} MongoDB connections still in use after resting")
    return failures


def _share(now: tuple[int, int], then: tuple[int, int]) -> float:
    """Percentage of the machine's CPU time stolen by the hypervisor between two reads."""
    total = now[1] - then[1]
    return 100.0 * (now[0] - then[0]) / total if total > 0 else 0.0


def _verdict(samples: list[dict[str, float]], lost: int, rested: Rested) -> int:
    steady = samples[1:]  # the first window warms caches and pools up
    third = max(1, len(steady) // 3)
    failures = []
    for key in ("rss_mib", "open_files", *(w.removeprefix("carechat_") for w in WATCHED)):
        first = statistics.mean(s[key] for s in steady[:third])
        last = statistics.mean(s[key] for s in steady[-third:])
        allowed = first * TOLERANCE.get(key, 0.05) + 2
        grew = last - first
        print(
            f"{key:28} first third {first:10,.1f}   last third {last:10,.1f}   growth {grew:+,.1f}"
        )
        if grew > allowed and not key.startswith("mongodb_connections"):  # judged below
            failures.append(f"{key} grew by {grew:,.1f} (allowed {allowed:,.1f})")
    failures += _pool_failures(steady, rested)
    print(f"lost messages: {lost}")
    stolen = [s["steal_pct"] for s in steady]
    print(
        f"CPU stolen by the hypervisor: median {statistics.median(stolen):.0f} %, "
        f"max {max(stolen):.0f} %, over 10 % in {sum(1 for x in stolen if x > 10)} of "
        f"{len(stolen)} windows"
    )
    for failure in failures:
        print(f"NOT FLAT: {failure}")
    return 0 if not failures and lost == 0 else 1
