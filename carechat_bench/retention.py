"""``carechat bench --retention``: a retention pass deleting 50,000 messages under 1:1 chat.

An additive phase in its own module, built like ``--mailing``:

1. peak       the closed-loop maximum of 1:1 chat (as phase 2 of ``runner.py``)
2. baseline   open-loop 1:1 chat at 30 % of that peak: send→delivery p50/p99
3. retention  the same chat load while the server's durable ``retention`` job deletes
              200 closed panel questions of 250 messages (1 KiB ciphertext each) and
              one GridFS attachment each, closed 40 days ago: the pass's duration (made
              due → audited, as MongoDB records it) and the chat p99 meanwhile

The questions are written straight into MongoDB (a retention pass reads only the
documents' ids, times and states); the pass runs with the server's default batch size
and pause (``retention_batch_size``, ``retention_pause_ms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bson import Binary

from carechat_bench.processes import CareChatServer, LoaderProcess
from carechat_bench.runner import DB, base_env, check_phase, seed_roster
from carechat_bench.stats import Figure
from chat_server.clock import SystemClock
from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.storage.attachments import AttachmentStore
from chat_server.storage.mongo import make_client

RETENTION_KIND = "retention"  # chat_server.handlers.retention.RETENTION_KIND


@dataclass(frozen=True, slots=True)
class RetentionOptions:
    runs: int = 3
    pairs: int = 500
    questions: int = 200
    messages_per_question: int = 250
    chat_seconds: float = 60.0  # long enough to cover the whole pass
    window: int = 4
    command: str = "carechat bench --retention"


def retention(options: RetentionOptions) -> str:
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="carechat-bench-retention-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o700)  # the roster holds session tokens
        with contextlib.ExitStack() as stack:
            mongo = stack.enter_context(EmbeddedMongo(workdir / "mongo", cache_gb=1.0))
            env = base_env(mongo.uri) | {"CARECHAT_JOBS_POLL_SECONDS": "0.1"}
            roster = seed_roster(mongo.uri, options.pairs, 2)
            roster_path = workdir / "roster.json"
            roster_path.write_text(json.dumps(roster.to_json()))
            server = stack.enter_context(CareChatServer(workdir / "server", env))
            loader = stack.enter_context(LoaderProcess(workdir))
            loader.call("start", base_url=server.url, roster=str(roster_path))
            loader.call("setup")
            loader.call("connect", group="pairs")
            loader.call("seal", group="pairs", per_device=10)
            top = loader.call("closed", group="pairs", window=options.window, patience=120.0)
            check_phase(top, "max")
            rate = top["delivered_per_s"] * 0.3
            figures.setdefault("chat_rate", []).append(rate)
            per_device = max(1, math.ceil(rate * options.chat_seconds / (options.pairs * 2)))
            for run in range(options.runs):
                loader.call("seal", group="pairs", per_device=per_device)
                alone = loader.call("open", group="pairs", rate=rate, patience=60.0)
                check_phase(alone, "chat alone")
                figures.setdefault("alone_p50_ms", []).append(alone["p50_ms"])
                figures.setdefault("alone_p99_ms", []).append(alone["p99_ms"])
                asyncio.run(_seed_expired(mongo.uri, f"r{run}", options))
                loader.call("seal", group="pairs", per_device=per_device)
                loader.send("open", group="pairs", rate=rate, patience=60.0)
                duration = asyncio.run(_run_and_wait(mongo.uri, options))
                during = loader.answer()
                check_phase(during, "chat during the retention pass")
                figures.setdefault("pass_s", []).append(duration)
                figures.setdefault("during_p50_ms", []).append(during["p50_ms"])
                figures.setdefault("during_p99_ms", []).append(during["p99_ms"])
                print(
                    f"  run {run + 1}: retention pass {duration:.2f} s; chat p99 "
                    f"{alone['p99_ms']:.1f} ms alone, {during['p99_ms']:.1f} ms during",
                    flush=True,
                )
    return _table(figures, options)


async def _seed_expired(uri: str, prefix: str, options: RetentionOptions) -> None:
    """Closed free panel questions, each with its messages and one attachment."""
    client = make_client(uri)
    try:
        db = client[DB]
        now = SystemClock().now()
        closed_at = now - timedelta(days=40)
        attachments = AttachmentStore(db)
        for q in range(options.questions):
            qid = f"bench-{prefix}-q{q:05d}"
            await db["panel_questions"].insert_one(
                {
                    "_id": qid,
                    "panel": "bench-panel",
                    "patient": f"bench-patient-{q}",
                    "state": "closed",
                    "outcome": "withdrawn",
                    "queued_at": closed_at,
                    "created_at": closed_at,
                    "closed_at": closed_at,
                    "day": closed_at.date().isoformat(),
                    "claims": 0,
                    "waits": 0,
                    "overdue": False,
                }
            )
            await db["messages"].insert_many(
                [
                    {
                        "thread": qid,
                        "seq": seq,
                        "sender_account": f"bench-patient-{q}",
                        "sender_device": "d1",
                        "cmid": f"m{seq}",
                        "kind": "message",
                        "envelope": Binary(os.urandom(1024)),
                        "at": closed_at,
                    }
                    for seq in range(1, options.messages_per_question + 1)
                ]
            )

            async def chunks() -> AsyncIterator[bytes]:
                yield os.urandom(64 * 1024)

            await attachments.upload(
                f"{qid}-file", thread_id=qid, uploader=f"bench-patient-{q}", chunks=chunks(),
                max_bytes=1 << 20, now=closed_at,
            )  # fmt: skip
            await db["attachments.files"].update_one(
                {"_id": f"{qid}-file"}, {"$set": {"metadata.claimed": True}}
            )
    finally:
        await client.close()


async def _run_and_wait(uri: str, options: RetentionOptions) -> float:
    """Makes the daily job due now (as if its hour had come) and waits for the pass's
    audit entry; the seconds from due to audited."""
    client = make_client(uri)
    try:
        db = client[DB]
        audited = await db["audit_log"].count_documents({"action": "retention_run"})
        began = time.monotonic()
        made_due = await db["jobs"].update_one(
            {"kind": RETENTION_KIND, "state": "due"}, {"$set": {"run_at": SystemClock().now()}}
        )
        if made_due.matched_count != 1:
            raise RuntimeError("the retention job is not waiting for its hour")
        while await db["audit_log"].count_documents({"action": "retention_run"}) == audited:
            if time.monotonic() - began > 300:
                raise RuntimeError("the retention pass took more than 300 s")
            await asyncio.sleep(0.05)
        took = time.monotonic() - began
        left = await db["messages"].count_documents({"thread": {"$regex": "^bench-r"}})
        if left:  # a retention benchmark that leaves its messages is not one
            raise RuntimeError(f"{left} expired messages are left after the pass")
        return took
    finally:
        await client.close()


ROWS = (
    ("chat_rate", "1:1 chat offered load (30 % of peak)", "msg/s", 0),
    ("alone_p50_ms", "chat p50, no retention pass", "ms", 1),
    ("alone_p99_ms", "chat p99, no retention pass", "ms", 1),
    ("pass_s", "retention pass, 50,000 messages + 200 files", "s", 2),
    ("during_p50_ms", "chat p50 during the pass", "ms", 1),
    ("during_p99_ms", "chat p99 during the pass", "ms", 1),
)


def _table(figures: dict[str, list[float]], options: RetentionOptions) -> str:
    lines = [f"`{options.command}`", "", "| figure | median (min-max) | unit |", "|---|---:|---|"]
    for key, what, unit, digits in ROWS:
        if figures.get(key):
            lines.append(f"| {what} | {Figure.of(figures[key]).render(digits)} | {unit} |")
    return "\n".join(lines)
