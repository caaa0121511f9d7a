"""Durable jobs survive SIGKILL: real processes, a real MongoDB replica set.

A worker process runs a job of 40 effects and is killed with SIGKILL half-way. A
second worker takes the job over once the dead one's lease has run out, resumes from
the last checkpoint, and each effect exists exactly once (unique keys). Then a real
``carechat serve`` is killed between storing a message and notifying its offline
recipient: the other process sends the e-mail, exactly once.
"""

from __future__ import annotations

import asyncio
import email
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import pytest
from pymongo import MongoClient

from chat_server.clock import SystemClock
from chat_server.handlers.notifications import SUBJECT
from chat_server.jobs import JobStore
from chat_server.storage.indexes import ensure_indexes
from chat_server.storage.mongo import make_client
from tests.actors import Actor
from tests.faults.harness import build_cast, server_env, until
from tests.functional.job_worker import LEASE_SECONDS
from tests.messaging import Device
from tests.servers import UrlClient, server_pair
from tests.services import Services, database_dropped

EFFECTS = 40


@pytest.fixture
def db_name(services: Services) -> Iterator[str]:
    name = f"jobs_{uuid4().hex[:12]}"
    yield name
    with MongoClient[dict[str, Any]](services.mongo.uri) as client:
        client.drop_database(name)


def _worker(uri: str, db_name: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "tests.functional.job_worker", uri, db_name],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_a_killed_workers_job_is_taken_over_and_resumed_from_its_cursor(
    services: Services, db_name: str, tmp_path: Path
) -> None:
    client = make_client(services.mongo.uri)
    db = client[db_name]
    store = JobStore(db)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        await ensure_indexes(db)
        now = SystemClock().now()
        await store.enqueue("count", {"n": EFFECTS}, now=now, run_at=now, max_attempts=3)
        workers.append(_worker(services.mongo.uri, db_name, tmp_path / "first.log"))

        async def some_checkpoints() -> bool:
            # The checkpoint, not the effect count: an effect is written just before
            # its checkpoint, so ten effects can still mean a cursor of nine.
            return await db["jobs"].count_documents({"cursor": {"$gte": 10}}) == 1

        await until(some_checkpoints, 60, "the first worker's checkpoints")
        workers[0].kill()  # SIGKILL, mid-job
        workers[0].wait()
        [dead] = [job async for job in db["jobs"].find({})]
        assert dead["state"] == "running"
        cursor_at_kill = dead["cursor"]
        assert 10 <= cursor_at_kill < EFFECTS

        workers.append(_worker(services.mongo.uri, db_name, tmp_path / "second.log"))

        async def done() -> bool:
            return await db["jobs"].count_documents({"state": "done"}) == 1

        await until(done, 60, "the second worker to finish the job")
        runs = [run async for run in db["runs"].find({}, sort=[("at", 1)])]
        assert [run["from"] for run in runs] == [0, cursor_at_kill]
        assert runs[0]["owner"] == dead["lease_owner"] != runs[1]["owner"]
        assert runs[1]["at"] >= dead["lease_until"]  # only once the lease had run out
        job = await store.get(dead["_id"])
        assert job is not None
        assert (job.attempts, job.cursor) == (2, EFFECTS)
        effects = [doc["_id"] async for doc in db["effects"].find({})]
        assert sorted(effects) == sorted(f"{job.id}/{n}" for n in range(EFFECTS))
        # At most the one effect between the last checkpoint and the kill was tried
        # again, and found done.
        assert await db["repeats"].count_documents({}) <= 1
        assert LEASE_SECONDS < 5  # the test's waits assume a short lease
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        await client.close()


def _notifications_to(data_dir: Path, to: str) -> list[Path]:
    found = []
    for path in (data_dir / "outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == to and message["Subject"] == SUBJECT:
            found.append(path)
    return found


async def test_a_server_killed_between_storing_and_notifying_loses_no_email(
    services: Services, tmp_path: Path
) -> None:
    env = server_env(
        services.mongo.uri,
        services.redis.url,
        CARECHAT_NOTIFY_DELAY_SECONDS="3",
        CARECHAT_JOBS_LEASE_SECONDS="2",
        CARECHAT_JOBS_POLL_SECONDS="0.2",
    )
    with database_dropped(env), server_pair(tmp_path, env) as (a, b):
        cast = await build_cast(a.url, tmp_path)
        thread_id = cast.pairs[("ann", "doc1")]
        async with aiohttp.ClientSession() as http:
            ann: Actor = cast.actors["ann"]
            ann.client = UrlClient(http, a.url)
            phone = Device(ann, cast.keys[cast.device("ann", "ann-phone")])
            await phone.connect()
            ack = await phone.send_text(thread_id, "are you there?", cast.threads[thread_id])
            assert ack["type"] == "ack", ack
            a.kill()  # SIGKILL: the message is stored, the recipient not yet notified
        with MongoClient[dict[str, Any]](services.mongo.uri) as client:
            jobs = client[env["CARECHAT_MONGODB_DB"]]["jobs"]
            [job] = jobs.find({"kind": "notify_offline"})
            assert job["state"] == "due"  # A died before it came due
            assert job["payload"]["account"] == cast.actors["doc1"].account_id

            await until(
                lambda: bool(_notifications_to(tmp_path, "doc1@example.org")),
                30,
                "the notification from the surviving process",
            )
            await asyncio.sleep(2 * 2)  # two more leases: room for any second e-mail
            assert len(_notifications_to(tmp_path, "doc1@example.org")) == 1
            assert not _notifications_to(tmp_path, "ann@example.org")
            finished = jobs.find_one({"_id": job["_id"]})
            assert finished is not None
            assert (finished["state"], finished["attempts"]) == ("done", 1)
        assert b.proc is not None
        assert b.proc.poll() is None
