"""``carechat bench --flood``: one account floods at 10x while everyone else chats.

An additive phase in its own module (the other phases are in ``runner.py``), against a
server with the production message limits (per device and per account; the address
limit stays raised, since every simulated person connects from 127.0.0.1):

1. peak     the closed-loop maximum of 1:1 chat (as phase 2 of ``runner.py``)
2. alone    open-loop 1:1 chat across the pairs at 30 % of that peak (the normal
            latency workload): send→delivery p50/p99
3. flood    the same chat load while one more account, from its own load-generator
            process and socket, offers ``factor`` times that whole rate (10x what all
            the others send together); the limiter refuses most of it with an error
            frame (``rate_limited``, with ``retry_after``): the chat p50/p99 meanwhile,
            and the flooder's accepted and limited sends

The flooder has its own process so that its sending is not done by the loop that
times everyone else's messages, and it is lean (frames built before the clock starts
and written raw, ``rawframes.py``; nothing done while it is shut out but its
reconnects) and runs at the lowest CPU priority during the flood: it shares the two
cores with the server it floods, and its own CPU must not pass for the server's. The
CPU of every process is reported with and without the flood, and the chat's p99 per
250 ms of sending beside the flooder's close, refusals and reconnects.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carechat_bench.processes import (
    CareChatServer,
    LoaderProcess,
    cpu_seconds,
    machine_busy_ticks,
)
from carechat_bench.report import phase_table, replace_section
from carechat_bench.runner import base_env, check_phase, profiled, seed_roster
from carechat_bench.seed import Roster
from carechat_bench.stats import TIMELINE_BIN_SECONDS
from chat_server.embedded.mongod import EmbeddedMongo

START = "<!-- bench:flood:start -->"
END = "<!-- bench:flood:end -->"
LIMITED = "rate_limited"  # chat_server.errors.ErrorCode.RATE_LIMITED
CLOSED = "closed 4029"  # chat_server.errors.WS_RATE_LIMITED: closed for flooding


@dataclass(frozen=True, slots=True)
class FloodOptions:
    runs: int = 3
    pairs: int = 500
    chat_seconds: float = 10.0
    load: float = 0.3  # the chat workload, as a share of the measured peak
    factor: float = 10.0  # the flooder's offered rate, times the chat workload's
    window: int = 4
    # The flooder's niceness: it shares the cores with the server it floods, and its
    # own CPU must not pass for the server's (19: it runs on what the others leave).
    flooder_nice: int = 19
    write_docs: Path | None = None
    # A py-spy profile of the server during the first flood (SVG, or collapsed stacks
    # if the name ends in .txt).
    profile: Path | None = None
    command: str = "carechat bench --flood"


def flood(options: FloodOptions) -> str:
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="carechat-bench-flood-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o700)  # the rosters hold session tokens
        with contextlib.ExitStack() as stack:
            mongo = stack.enter_context(EmbeddedMongo(workdir / "mongo", cache_gb=1.0))
            env = production_limits(base_env(mongo.uri))
            # One pair more than the chat: its patient is the flooder.
            roster = seed_roster(mongo.uri, options.pairs + 1, 2)
            chat_roster, flood_roster = split_roster(roster)
            chat_path, flood_path = workdir / "chat.json", workdir / "flood.json"
            chat_path.write_text(json.dumps(chat_roster.to_json()))
            flood_path.write_text(json.dumps(flood_roster.to_json()))
            server = stack.enter_context(CareChatServer(workdir / "server", env))
            chat = stack.enter_context(LoaderProcess(workdir))
            flooder = stack.enter_context(LoaderProcess(workdir))
            for loader, path in ((chat, chat_path), (flooder, flood_path)):
                loader.call("start", base_url=server.url, roster=str(path))
                # The team's keys are published once.
                loader.call("setup", team=loader is chat)
            chat.call("connect", group="pairs")
            # Only the flooding patient: its correspondent's delivery receipts would be
            # pushed to a socket whose send queue the flood keeps full of answers
            # (refusals wait for room, pacing the flooder), and a push finding it full
            # closes it as too slow (4008), ending the flood instead of measuring it.
            flooder.call("connect", group="pairs", first=1)
            chat.call("seal", group="pairs", per_device=10)
            top = chat.call("closed", group="pairs", window=options.window, patience=120.0)
            check_phase(top, "max")
            rate = top["delivered_per_s"] * options.load
            flood_rate = rate * options.factor
            figures.setdefault("chat_rate", []).append(rate)
            per_device = max(1, math.ceil(rate * options.chat_seconds / (options.pairs * 2)))
            flood_frames = max(1, math.ceil(flood_rate * options.chat_seconds))
            # Every process on the two cores: what the flood costs each, the flooder's own
            # load generator included.
            pids = {
                "server": server.pid,
                "mongo": mongo.pid,
                "chat": chat.pid,
                "flooder": flooder.pid,
            }
            for run in range(options.runs):
                chat.call("seal", group="pairs", per_device=per_device)
                started = Busy.start(pids)
                alone = chat.call("open", group="pairs", rate=rate, patience=60.0)
                for name, share in started.percent().items():
                    figures.setdefault(f"alone_{name}_cpu_pct", []).append(share)
                check_phase(alone, "chat alone")
                figures.setdefault("alone_p50_ms", []).append(alone["p50_ms"])
                figures.setdefault("alone_p99_ms", []).append(alone["p99_ms"])
                figures.setdefault("alone_p99_first_ms", []).append(alone["p99_first_s_ms"])
                figures.setdefault("alone_p99_after_ms", []).append(alone["p99_after_first_s_ms"])
                # Sealed before either clock starts; only the patient sends.
                flooder.call("seal", group="pairs", per_device=flood_frames, senders=1, raw=True)
                chat.call("seal", group="pairs", per_device=per_device)
                started = Busy.start(pids)
                flooder.send(
                    "flood",
                    group="pairs",
                    rate=flood_rate,
                    patience=120.0,
                    nice=options.flooder_nice,
                )
                with profiled(server.pid, options.profile if run == 0 else None):
                    during = chat.call("open", group="pairs", rate=rate, patience=60.0)
                    flooded = flooder.answer()
                for name, share in started.percent().items():
                    figures.setdefault(f"during_{name}_cpu_pct", []).append(share)
                check_phase(during, "chat during the flood")
                check_flood(flooded)
                figures.setdefault("during_p50_ms", []).append(during["p50_ms"])
                figures.setdefault("during_p99_ms", []).append(during["p99_ms"])
                figures.setdefault("during_p99_first_ms", []).append(during["p99_first_s_ms"])
                figures.setdefault("during_p99_after_ms", []).append(during["p99_after_first_s_ms"])
                for key, value in (
                    ("flood_offered_per_s", flooded["offered_per_s"]),
                    ("flood_sent_per_s", flooded["sent_per_s"]),
                    ("flood_accepted", flooded["acked"]),
                    ("flood_limited", flooded["errors"].get(LIMITED, 0)),
                    ("flood_closes", flooded["errors"].get(CLOSED, 0)),
                    ("flood_lost_at_close", flooded["lost_at_close"]),
                    ("flood_reconnects_refused", flooded["reconnects_refused"]),
                    ("flood_not_sent", flooded["not_sent"]),
                ):
                    figures.setdefault(key, []).append(value)
                print(
                    f"  run {run + 1}: chat p99 {alone['p99_ms']:.1f} ms alone, "
                    f"{during['p99_ms']:.1f} ms during the flood; flooder offered "
                    f"{flooded['offered_per_s']:.0f}/s, sent {flooded['sent']}, accepted "
                    f"{flooded['acked']}, limited {flooded['errors'].get(LIMITED, 0)}, closed "
                    f"{flooded['errors'].get(CLOSED, 0)}x, reconnects refused "
                    f"{flooded['reconnects_refused']}, lost at a close "
                    f"{flooded['lost_at_close']}, not sent while shut out {flooded['not_sent']}",
                    flush=True,
                )
                print(describe_timeline("alone", alone, None), flush=True)
                print(describe_timeline("during the flood", during, flooded), flush=True)
    table = render(figures, options)
    if options.write_docs is not None:
        replace_section(options.write_docs, START, END, table)
    return table


@dataclass(frozen=True, slots=True)
class Busy:
    """CPU time of the benchmark's processes and of the whole machine from a start:
    what a phase cost each of them, in % of one core (the machine's: every process on
    it, ours or not, out of ``os.cpu_count()`` cores)."""

    pids: dict[str, int]
    wall: float
    cpu: dict[str, float]
    machine: tuple[int, int]

    @classmethod
    def start(cls, pids: dict[str, int]) -> Busy:
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        return cls(pids, time.perf_counter(), cpu, machine_busy_ticks())

    def percent(self) -> dict[str, float]:
        """CPU seconds per wall second since the start, in % of one core."""
        wall = max(time.perf_counter() - self.wall, 1e-9)
        shares = {
            name: (cpu_seconds(pid) - self.cpu[name]) / wall * 100
            for name, pid in self.pids.items()
        }
        busy, total = machine_busy_ticks()
        cores = os.cpu_count() or 1
        shares["machine"] = (busy - self.machine[0]) / max(total - self.machine[1], 1) * cores * 100
        return shares


def production_limits(env: dict[str, str]) -> dict[str, str]:
    """The benchmark's server environment with the shipped per-device and per-account
    message limits (``base_env`` raises them for the other phases)."""
    return {
        k: v
        for k, v in env.items()
        if k not in ("CARECHAT_SEND_LIMIT_PER_DEVICE", "CARECHAT_SEND_LIMIT_PER_ACCOUNT")
    }


def split_roster(roster: Roster) -> tuple[Roster, Roster]:
    """Everyone but the last pair chats; the last pair is the flooder's thread."""
    return (
        dataclasses.replace(roster, pairs=roster.pairs[:-1]),
        dataclasses.replace(roster, pairs=roster.pairs[-1:]),
    )


def check_flood(phase: dict[str, Any]) -> None:
    """Every flooded send is answered (accepted or limited) or lost with its socket
    when the server closed it for flooding (never acknowledged); nothing else happens."""
    other = {code: n for code, n in phase["errors"].items() if code not in (LIMITED, CLOSED)}
    if other or phase["unanswered"]:
        raise RuntimeError(
            f"flood: accepted {phase['acked']}, other errors {other}, "
            f"sends without an answer {phase['unanswered']}"
        )


ROWS = (
    ("chat_rate", "1:1 chat offered load (30 % of peak, all pairs)", "msg/s", 0),
    ("alone_p50_ms", "chat p50, no flood", "ms", 1),
    ("alone_p99_ms", "chat p99, no flood", "ms", 1),
    ("during_p50_ms", "chat p50 during the flood", "ms", 1),
    ("during_p99_ms", "chat p99 during the flood", "ms", 1),
    ("alone_p99_first_ms", "chat p99, no flood: messages sent in the first second", "ms", 1),
    ("during_p99_first_ms", "chat p99 during the flood: sent in its first second", "ms", 1),
    ("alone_p99_after_ms", "chat p99, no flood: sent after the first second", "ms", 1),
    ("during_p99_after_ms", "chat p99 during the flood: sent after its first second", "ms", 1),
    ("alone_server_cpu_pct", "server CPU, chat alone (100 = one core)", "%", 0),
    ("during_server_cpu_pct", "server CPU during the flood", "%", 0),
    ("alone_mongo_cpu_pct", "MongoDB CPU, chat alone", "%", 0),
    ("during_mongo_cpu_pct", "MongoDB CPU during the flood", "%", 0),
    ("alone_chat_cpu_pct", "chat load generator CPU, chat alone", "%", 0),
    ("during_chat_cpu_pct", "chat load generator CPU during the flood", "%", 0),
    ("alone_flooder_cpu_pct", "flooder process CPU, chat alone (idle)", "%", 0),
    ("during_flooder_cpu_pct", "flooder process CPU during the flood", "%", 0),
    ("alone_machine_cpu_pct", "whole machine CPU, chat alone (200 = both cores)", "%", 0),
    ("during_machine_cpu_pct", "whole machine CPU during the flood", "%", 0),
    (
        "flood_offered_per_s",
        "flooder's offered sends, one account (goal: 10x the chat load)",
        "msg/s",
        0,
    ),
    ("flood_sent_per_s", "flooder's sends on an open socket", "msg/s", 0),
    ("flood_accepted", "flooder's sends accepted", "sends", 0),
    ("flood_limited", "flooder's sends limited (error frame `rate_limited`)", "sends", 0),
    ("flood_closes", "flooder's socket closed for flooding (4029)", "closes", 0),
    ("flood_lost_at_close", "flooder's sends in flight at a close (never acked)", "sends", 0),
    ("flood_reconnects_refused", "flooder's reconnects refused (429 / 4029), at once", "tries", 0),
    ("flood_not_sent", "flooder's sends due while shut out", "sends", 0),
)


def describe_timeline(what: str, phase: dict[str, Any], flooded: dict[str, Any] | None) -> str:
    """Two lines: the chat's p99 per bin of sending, and when the flooder's socket was
    closed, refused and let in again (seconds from the chat's first send)."""
    start = phase["started_at"]
    p99s = " ".join("-" if math.isnan(b[2]) else f"{b[2]:.0f}" for b in phase["timeline"])
    counts = " ".join(f"{b[0]:.0f}" for b in phase["timeline"])
    lines = [
        f"    {what}: p99 ms per {TIMELINE_BIN_SECONDS * 1000:.0f} ms of sending: {p99s}",
        f"    {what}: messages per bin: {counts}",
    ]
    if flooded is not None:
        events = ", ".join(f"{kind} {at - start:.2f}" for at, kind in flooded["events"])
        began = flooded["started_at"] - start
        lines.append(f"    flooder (s from the chat's first send; began {began:+.2f}): {events}")
    return "\n".join(lines)


def render(figures: dict[str, list[float]], options: FloodOptions) -> str:
    runs = max((len(v) for v in figures.values()), default=0)
    intro = (
        f"Command: `{options.command}` ({runs} runs per figure, {options.pairs} pairs, "
        f"{options.chat_seconds:g} s of chat per run)."
    )
    return "\n".join([intro, "", *phase_table(figures, ROWS)])
