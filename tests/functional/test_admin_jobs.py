"""``carechat admin jobs``: failed durable jobs for the operator, never their payloads."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from chat_server.clock import ManualClock
from chat_server.jobs import JobStore
from chat_server.storage.indexes import ensure_indexes
from chat_server.storage.mongo import make_client
from tests.functional.command import run_carechat
from tests.services import Services

CANARY = "ann.patient@example.org"


async def _jobs(uri: str, db_name: str) -> tuple[str, str]:
    """A failed job and a due one, both with a payload naming a patient."""
    clock = ManualClock()
    client = make_client(uri)
    try:
        store = JobStore(client[db_name])
        await ensure_indexes(client[db_name])
        now = clock.now()
        failed = await store.enqueue(
            "notify_offline", {"email": CANARY}, now=now, run_at=now, max_attempts=2
        )
        later = now + timedelta(hours=1)
        due = await store.enqueue(
            "notify_offline", {"email": CANARY}, now=now, run_at=later, max_attempts=2
        )
        assert failed is not None
        assert due is not None
        taken = await store.take("worker", now=now, lease=timedelta(seconds=30), kinds=["x"])
        assert taken is None  # a kind this "process" does not know is left alone
        taken = await store.take(
            "worker", now=now, lease=timedelta(seconds=30), kinds=["notify_offline"]
        )
        assert taken is not None
        assert taken.id == failed
        await store.fail(failed, "worker", now=now, error="SMTPServerDisconnected")
        return failed, due
    finally:
        await client.close()


def test_admin_jobs_lists_failed_jobs_without_payloads(
    external_env: dict[str, str], external_db: str, services: Services
) -> None:
    failed, due = asyncio.run(_jobs(services.mongo.uri, external_db))

    result = run_carechat(["admin", "jobs"], external_env)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split("\t") == ["id", "kind", "state", "attempts", "error", "created", "updated"]
    assert len(rows) == 1
    assert rows[0].split("\t")[:5] == [
        failed,
        "notify_offline",
        "failed",
        "1/2",
        "SMTPServerDisconnected",
    ]

    everything = run_carechat(["admin", "jobs", "--all"], external_env)
    assert everything.returncode == 0, everything.stderr
    listed = {
        line.split("\t")[0]: line.split("\t")[2] for line in everything.stdout.splitlines()[1:]
    }
    assert listed == {failed: "failed", due: "due"}
    for output in (result, everything):
        assert CANARY not in output.stdout + output.stderr
