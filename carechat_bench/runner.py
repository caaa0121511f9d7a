"""``carechat bench``: start everything on loopback, run each phase several times, report.

Phases, each repeated ``runs`` times (figures are medians with the min-max range):

1. echo       the bare aiohttp echo server, 1,000 sockets, closed loop: the transport
2. max        1:1 threads across 1,000 devices, each keeping ``window`` sends in
              flight: delivered messages/s (every one majority-written before its
              ack), server CPU per accepted message; one run first, on its own
              rows: it fills the server's caches after its start
3. load 70/30 open loop at 70 % and 30 % of that maximum: send-to-delivery latency,
              and the server's means over the phase (server_view.py): its writes,
              messages per write, and a send from its frame read to its ack
4. fan-out    one patient to a 49-member practice team (50 members)
5. idle       authenticated sockets held through heartbeats: server memory per socket
6. ready      ``carechat serve`` on the embedded default, first start and restart
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carechat_bench.processes import (
    CareChatServer,
    EchoServer,
    LoaderProcess,
    cpu_seconds,
    rss_bytes,
)
from carechat_bench.proxy import Haproxy
from carechat_bench.report import Report
from carechat_bench.seed import Roster, Seeder
from carechat_bench.server_view import phase_view, totals
from chat_server.clock import SystemClock
from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.embedded.redis_server import LocalRedis
from chat_server.storage.indexes import ensure_indexes
from chat_server.storage.mongo import make_client

DB = "bench"
# Each process may hold at most this many sockets here (the hard file limit is often
# 20,000, and the process needs descriptors of its own).
SOCKETS_PER_PROCESS = 9_500


@dataclass(frozen=True, slots=True)
class Options:
    runs: int = 3
    pairs: int = 500  # 1,000 devices
    team: int = 50
    per_device: int = 10
    window: int = 4
    load_seconds: float = 4.0
    fanout_messages: int = 200
    idle_sockets: int = 20_000
    idle_hold: float = 25.0
    redis: bool = False
    # Server processes for the messaging phases; more than one run behind HAProxy
    # and need ``redis`` for the fan-out between them.
    processes: int = 1
    write_docs: Path | None = None
    # A py-spy profile of the server during the first counted maximum-rate run, the
    # one after the first run since the start (SVG, or collapsed stacks for a .txt).
    profile: Path | None = None
    command: str = "carechat bench"


@dataclass
class Results:
    figures: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float) -> None:
        self.figures.setdefault(name, []).append(value)


def run(options: Options) -> Report:
    if options.processes > 1 and not options.redis:
        raise ValueError("several server processes need --redis for the fan-out between them")
    machine = _machine()  # before the run: the load average is the machine's own
    results = Results()
    with tempfile.TemporaryDirectory(prefix="carechat-bench-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o700)  # the roster holds session tokens
        with contextlib.ExitStack() as stack:
            mongo = stack.enter_context(EmbeddedMongo(workdir / "mongo", cache_gb=1.0))
            env = base_env(mongo.uri)
            if options.redis:
                env["CARECHAT_REDIS_URL"] = stack.enter_context(LocalRedis()).url
            roster = seed_roster(mongo.uri, options.pairs, options.team)
            roster_path = workdir / "roster.json"
            roster_path.write_text(json.dumps(roster.to_json()))
            _messaging(workdir, env, roster_path, options, results, mongo.pid)
            if options.processes == 1:
                _idle(workdir, env, roster_path, options, results)
        if options.processes == 1:
            _ready(workdir, options, results)
    machine["CPU check at the end"] = f"{cpu_check_ms():.0f} ms"
    report = Report(
        options.command,
        results.figures,
        results.notes,
        machine,
        options.redis,
        options.processes,
    )
    if options.write_docs is not None:
        report.write(options.write_docs)
    return report


def base_env(mongodb_uri: str) -> dict[str, str]:
    """What every benchmarked server process is configured with."""
    return {
        "CARECHAT_MONGODB_URI": mongodb_uri,
        "CARECHAT_MONGODB_DB": DB,
        "CARECHAT_SERVER_SECRET": os.urandom(24).hex(),
        # The limits meant for people typing would stop a load generator; the checks
        # still run on every send.
        "CARECHAT_SEND_LIMIT_PER_DEVICE": "1000000",
        "CARECHAT_SEND_LIMIT_PER_ACCOUNT": "1000000",
        "CARECHAT_SEND_LIMIT_PER_IP": "1000000",
        "CARECHAT_KEY_LOOKUPS_PER_IP": "1000000",
        # Every simulated device connects from 127.0.0.1, up to CONNECT_CONCURRENCY
        # sockets at once before their hello.
        "CARECHAT_WS_UNAUTHENTICATED_PER_IP": "100000",
    }


def seed_roster(mongodb_uri: str, pairs: int, team: int) -> Roster:
    async def seed() -> Roster:
        client = make_client(mongodb_uri)
        try:
            db = client[DB]
            await ensure_indexes(db)
            return await Seeder(db, SystemClock()).roster(pairs, team)
        finally:
            await client.close()

    return asyncio.run(seed())


def _messaging(
    workdir: Path,
    env: dict[str, str],
    roster: Path,
    options: Options,
    results: Results,
    mongo_pid: int,
) -> None:
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(CareChatServer(workdir / f"server{n}", env))
            for n in range(options.processes)
        ]
        proxy = (
            stack.enter_context(Haproxy(workdir / "proxy", [s.port for s in servers]))
            if options.processes > 1
            else None
        )
        echo = stack.enter_context(EchoServer(workdir))
        loader = stack.enter_context(LoaderProcess(workdir))
        entry = proxy.url if proxy is not None else servers[0].url
        loader.call("start", base_url=entry, roster=str(roster))
        _say("publishing keys", loader.call("setup"))
        _say("connecting", loader.call("connect", group="pairs"))
        loader.call("connect", group="team")
        devices = options.pairs * 2
        # The processes share the two cores: each one's CPU per message says whether
        # the server, or what drives and stores for it, bounds the rate.
        pids = {"loader_cpu": loader.pid, "mongo_cpu": mongo_pid}
        pids.update({f"server{n}": s.pid for n, s in enumerate(servers)})
        if proxy is not None:
            pids["proxy_cpu"] = proxy.pid
        # The first run after a start reads every thread, device list and account's
        # blocks from MongoDB once (about 2 ms of server CPU per thread): the cost of a
        # start, not of a message. It is reported on its own rows, and the runs the
        # medians come from are the ones after it, as a server that has been up a while.
        top, per_msg = _max_run(loader, options, pids, profile=None)
        results.add("cold_max_per_s", top["delivered_per_s"])
        results.add("cold_cpu_us_per_msg", sum(per_msg[f"server{n}"] for n in range(len(servers))))
        _say("first run after the start: max", top)
        for i in range(options.runs):
            baseline = loader.call(
                "echo",
                url=echo.url.replace("http", "ws") + "/ws",
                connections=devices,
                # Long enough to be a rate, not a warm-up (about a second here).
                per_connection=options.per_device * 5,
                window=options.window,
                size=600,
            )
            results.add("echo_per_s", baseline["delivered_per_s"])
            # The host's speed right before this run: a slowed host shows here, run by run.
            results.add("cpu_check_ms", cpu_check_ms())
            top, per_msg = _max_run(
                loader, options, pids, profile=options.profile if i == 0 else None
            )
            results.add("max_per_s", top["delivered_per_s"])
            results.add("ratio_to_echo", top["delivered_per_s"] / baseline["delivered_per_s"])
            shares = [per_msg.pop(f"server{n}") for n in range(len(servers))]
            results.add("cpu_us_per_msg", sum(shares))
            for name, value in per_msg.items():
                results.add(f"{name}_us_per_msg", value)
            if len(servers) > 1:
                each = ", ".join(f"{v:.0f}" for v in shares)
                results.notes.append(
                    f"run {i + 1}: server CPU per message by process: {each} µs "
                    f"(sum {sum(shares):.0f} µs; {top['delivered_per_s']:.0f} msg/s)"
                )
            _say(f"run {i + 1}: echo", baseline)
            _say(f"run {i + 1}: max", top)
        metrics = [s.metrics_url for s in servers]
        peak = sorted(results.figures["max_per_s"])[len(results.figures["max_per_s"]) // 2]
        for load in (0.7, 0.3):
            rate = peak * load
            per_device = max(1, math.ceil(rate * options.load_seconds / devices))
            for i in range(options.runs):
                loader.call("seal", group="pairs", per_device=per_device)
                before = totals(metrics)
                phase = loader.call("open", group="pairs", rate=rate, patience=60.0)
                check_phase(phase, f"load {load}")
                tag = f"load{round(load * 100)}"
                results.add(f"{tag}_rate", phase["offered_per_s"])
                for p in ("p50_ms", "p99_ms", "p999_ms"):
                    results.add(f"{tag}_{p}", phase[p])
                # The server's part of those latencies: its writes and its sends.
                for name, value in phase_view(before, totals(metrics)).items():
                    results.add(f"{tag}_{name}", value)
                _say(f"run {i + 1}: {tag}", phase)
        for i in range(options.runs):
            loader.call("seal", group="team", per_device=options.fanout_messages, senders=1)
            fan = loader.call("closed", group="team", window=options.window, patience=120.0)
            check_phase(fan, "fan-out")
            results.add("fanout_deliveries_per_s", fan["delivered_per_s"])
            results.add("fanout_messages_per_s", fan["delivered_per_s"] / (options.team - 1))
            results.add("fanout_p50_ms", fan["p50_ms"])
            results.add("fanout_p99_ms", fan["p99_ms"])
            _say(f"run {i + 1}: fan-out", fan)


def _max_run(
    loader: LoaderProcess,
    options: Options,
    pids: dict[str, int],
    *,
    profile: Path | None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """One maximum-rate run: the loader's answer, and each process's CPU per accepted
    message (µs) over it; ``profile``: a py-spy profile of the first server process."""
    loader.call("seal", group="pairs", per_device=options.per_device)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    with profiled(pids["server0"], profile):
        top = loader.call("closed", group="pairs", window=options.window, patience=120.0)
    check_phase(top, "max")
    acked = max(top["acked"], 1)
    return top, {name: (cpu_seconds(p) - before[name]) * 1e6 / acked for name, p in pids.items()}


@contextlib.contextmanager
def profiled(pid: int, output: Path | None) -> Iterator[None]:
    if output is None:
        yield
        return
    spy = shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("--profile needs py-spy on PATH (pip install py-spy)")
    recorder = subprocess.Popen(  # noqa: S603 (py-spy from PATH, our own pid)
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--output",
            str(output),
            "--rate",
            "200",
            "--nonblocking",
            # Collapsed stacks for a .txt (to read or aggregate); a flame graph otherwise.
            *(["--format", "raw"] if output.suffix == ".txt" else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(60)


def check_phase(phase: dict[str, Any], name: str) -> None:
    """A benchmark that loses messages is not a benchmark: stop and say so."""
    if phase["delivered"] != phase["expected"] or phase["errors"] or phase["unanswered"]:
        raise RuntimeError(
            f"{name}: delivered {phase['delivered']} of {phase['expected']}, "
            f"errors {phase['errors']}, sends without an answer {phase['unanswered']}"
        )


def _idle(
    workdir: Path, env: dict[str, str], roster: Path, options: Options, results: Results
) -> None:
    processes = max(1, math.ceil(options.idle_sockets / SOCKETS_PER_PROCESS))
    share = options.idle_sockets // processes
    for i in range(options.runs):
        with contextlib.ExitStack() as stack:
            servers = [
                stack.enter_context(CareChatServer(workdir / f"idle{n}", env))
                for n in range(processes)
            ]
            time.sleep(1.0)
            before = [rss_bytes(s.pid) for s in servers]
            loaders = [stack.enter_context(LoaderProcess(workdir)) for _ in servers]
            for server, loader in zip(servers, loaders, strict=True):
                loader.send(
                    "idle",
                    base_url=server.url,
                    roster=str(roster),
                    sockets=share,
                    hold=options.idle_hold,
                )
            connected = [loader.answer() for loader in loaders]
            held = [rss_bytes(s.pid) for s in servers]
            finished = [loader.answer() for loader in loaders]
            after = [rss_bytes(s.pid) for s in servers]
            sockets = sum(c["connected"] for c in connected)
            dropped = sum(f["closed_early"] for f in finished)
            # Reported, not fatal: a drop here is a finding about heartbeats under load.
            results.add("idle_dropped", dropped)
            grown = sum(max(h, a) for h, a in zip(held, after, strict=True)) - sum(before)
            per_socket = grown / sockets
            results.add("idle_sockets", sockets)
            results.add("idle_kb_per_socket", per_socket / 1024)
            results.add("idle_sockets_per_gib", (1 << 30) / per_socket)
            results.add("idle_rss_mib", sum(after) / (1 << 20))
            _say(f"run {i + 1}: idle", {"sockets": sockets, "kb_per_socket": per_socket / 1024})
    if processes > 1:
        results.notes.append(
            f"idle sockets are spread over {processes} server processes of at most "
            f"{SOCKETS_PER_PROCESS:,} sockets: the hard limit of {_open_files_limit():,} open "
            "files per process here leaves no room for them all in one"
        )


def _ready(workdir: Path, options: Options, results: Results) -> None:
    """``carechat serve`` on the embedded default: first start, then restart."""
    for i in range(options.runs):
        data = workdir / f"ready{i}"
        for kind in ("cold", "warm"):
            # No MongoDB URI: the server starts its embedded replica set itself.
            with CareChatServer(data, {}) as server:
                results.add(f"ready_{kind}_s", server.ready_seconds)
        shutil.rmtree(data, ignore_errors=True)


def _say(what: str, result: dict[str, Any]) -> None:
    shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
    print(f"  {what}: {shown}", flush=True)


def _machine() -> dict[str, str]:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // (1024 * 1024)
    return {
        "cpu": f"{os.cpu_count()} x {model}",
        # Other work on the machine skews latency (CPU per message much less).
        "load average at the start": f"{os.getloadavg()[0]:.1f}",
        "CPU check at the start": f"{cpu_check_ms():.0f} ms",
        "memory": f"{memory} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def cpu_check_ms() -> float:
    """How long this machine takes for a fixed piece of pure Python, the median of 5
    (milliseconds). A VM's host can slow its guest by half without any steal or load
    showing inside it, and every figure of a run moves with it: taken before and after
    a run and before each counted maximum-rate run, this says whether the machine was
    itself (docs/benchmarks.md: its opening, and "Eleventh step")."""
    times = []
    for _ in range(5):
        started = time.process_time()
        total = 0
        for i in range(_CPU_CHECK_LOOPS):
            total += i * i
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


# About 130 ms on the 2-vCPU AMD EPYC VM of the tenth step when its host was quiet,
# about 165 on the Intel Xeon one it was moved to (docs/benchmarks.md, "Thirteenth step").
_CPU_CHECK_LOOPS = 3_000_000


def _open_files_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]
