"""Audit chain anchors: a durable job exports the head daily (a file, an e-mail), and a
history rewritten with its hashes recomputed passes the chain check but not the
anchors. Real MongoDB; time driven by a manual clock."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.admin import verify_audit
from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.handlers.audit_anchor import ANCHOR_FILE, ANCHOR_KIND, ANCHOR_SUBJECT
from chat_server.handlers.retention import RETENTION_KIND
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from moderation.audit import BreakReason, BrokenLink, from_document, new_entry, to_document
from moderation.audit_anchors import AuditAnchor, parse_anchors
from tests.actors import actor, login

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
AUDITOR = "auditor@example.org"


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _anchors(directory: Path) -> list[AuditAnchor]:
    path = directory / ANCHOR_FILE
    return parse_anchors(path.read_text()) if path.exists() else []


async def _rewrite_history(db: Db, seq: int, what: str) -> None:
    """What a database writer without the anchors could do: change entry ``seq`` and
    recompute every hash after it, so the chain verifies again."""
    docs = [doc async for doc in db["audit_log"].find().sort("seq", 1)]
    prev = None
    for doc in docs:
        entry = from_document(doc)
        details = {**entry.details, "what": what} if entry.seq == seq else dict(entry.details)
        rewritten = new_entry(
            prev,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            ip_hash=entry.ip_hash,
            details=details,
        )
        await db["audit_log"].replace_one({"_id": doc["_id"]}, to_document(rewritten))
        prev = rewritten


async def test_daily_anchors_catch_a_rewritten_history(
    aiohttp_client: Any,
    settings: Settings,
    db: Db,
    clock: ManualClock,
    outbox: MemoryOutbox,
    tmp_path: Path,
) -> None:
    directory = tmp_path / "anchors"
    quick = replace(
        settings,
        audit_anchor_dir=directory,
        audit_anchor_email=AUDITOR,
        jobs_poll_seconds=0.05,
    )
    client: Client = await aiohttp_client(create_app(quick, clock=clock, mailer=outbox, sms=outbox))
    # The first anchor is taken at start-up (the log is empty then).
    await until(lambda: _count(directory, 1), "the first anchor")
    first = _anchors(directory)[0]
    assert (first.seq, first.entries) == (0, 0)

    ann = await actor(client, outbox, "ann@example.org")
    await login(client, "ann@example.org")
    await ann.call("DELETE", "/api/v1/sessions/current", expect=204)
    head = await db["audit_log"].find_one(sort=[("seq", -1)])
    assert head is not None
    assert head["seq"] == 3

    # The daily retention pass, due in the same day, audits itself: this test is about
    # anchors, so that job goes, leaving the log's head where the test put it.
    await db["jobs"].delete_many({"kind": RETENTION_KIND})
    # Not before a day has passed; then one more line, the head as it is now.
    await asyncio.sleep(0.3)
    assert len(_anchors(directory)) == 1
    clock.advance(24 * 3600)
    await until(lambda: _count(directory, 2), "the next day's anchor")
    anchor = _anchors(directory)[1]
    assert (anchor.seq, anchor.hash, anchor.entries) == (3, head["hash"], 3)
    assert anchor.at == clock.now()
    # The line is written before the runner records the job as done (until then its
    # run_at is the running lease's end): the next run is tomorrow once it has.
    tomorrow = clock.now() + timedelta(hours=24)

    async def rescheduled() -> bool:
        job = await db["jobs"].find_one({"kind": ANCHOR_KIND})
        return job is not None and job["run_at"] == tomorrow

    await until(rescheduled, "the anchor job due again in a day")
    # The auditor got the same lines by e-mail: hashes, counts and times, no one's data.
    mails = [m for m in outbox.sent if m.to == AUDITOR]
    assert [m.subject for m in mails] == [ANCHOR_SUBJECT] * 2
    assert (directory / ANCHOR_FILE).read_text().splitlines()[1] in mails[1].body
    assert "ann@example.org" not in (directory / ANCHOR_FILE).read_text() + mails[1].body

    anchors = _anchors(directory)
    assert await verify_audit(db, anchors) == (3, None)

    # Entry 1 changed and every later hash recomputed: the chain alone verifies...
    await _rewrite_history(db, 1, "rewritten")
    assert await verify_audit(db) == (3, None)
    # ...but the head is no longer the anchored one.
    assert await verify_audit(db, anchors) == (3, BrokenLink(3, BreakReason.ANCHOR_MISMATCH))
    # The operator's command says so too.
    code, out = await _verify_command(quick, directory / ANCHOR_FILE)
    assert (code, out) == (1, "carechat: audit log broken at seq 3: differs from its anchor")

    # A history cut back before the anchored head: the anchored entry is missing.
    await db["audit_log"].delete_many({"seq": {"$gte": 3}})
    count, broken = await verify_audit(db, anchors)
    assert (count, broken) == (2, BrokenLink(3, BreakReason.ANCHOR_MISSING))


async def test_the_verify_command_accepts_anchors_that_match(
    settings: Settings, db: Db, tmp_path: Path
) -> None:
    anchors = tmp_path / ANCHOR_FILE
    anchors.write_text(
        '{"seq":0,"hash":"' + "0" * 64 + '","entries":0,"at":"2026-01-01T00:00:00.000+00:00"}\n'
    )
    assert await _verify_command(settings, anchors) == (
        0,
        "carechat: audit log intact (0 entries, matches 1 anchors)",
    )
    anchors.write_text("not an anchor\n")
    code, _ = await _verify_command(settings, anchors)
    assert code == 2


async def _count(directory: Path, n: int) -> bool:
    return len(_anchors(directory)) >= n


async def _verify_command(settings: Settings, anchors: Path) -> tuple[int, str]:
    assert settings.mongodb_uri is not None
    env = {
        "CARECHAT_MONGODB_URI": settings.mongodb_uri.reveal(),
        "CARECHAT_MONGODB_DB": settings.mongodb_db,
        "PATH": "/usr/bin:/bin",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chat_server",
        "admin",
        "verify-audit",
        "--anchors",
        str(anchors),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode().strip()
