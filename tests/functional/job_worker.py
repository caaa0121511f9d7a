"""A process that runs CareChat's job runner on a real MongoDB, for SIGKILL tests.

``python -m tests.functional.job_worker MONGODB_URI DB`` takes ``count`` jobs and
runs them until it is killed. A ``count`` job performs ``payload.n`` effects, each
an insert under a unique key (the idempotent effect), checkpointing after each, and
records where every run of it started from.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiojobs
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_server.clock import SystemClock
from chat_server.jobs import JobContext, JobKinds, JobRunner, JobStore
from chat_server.storage.mongo import make_client

LEASE_SECONDS = 1.0
EFFECT_SECONDS = 0.05


def counter(db: AsyncDatabase[dict[str, Any]], owner: list[str]) -> Any:
    async def count(ctx: JobContext) -> None:
        start = ctx.cursor or 0
        await db["runs"].insert_one({"owner": owner[0], "from": start, "at": SystemClock().now()})
        for n in range(start, ctx.payload["n"]):
            try:
                await db["effects"].insert_one({"_id": f"{ctx.job.id}/{n}"})
            except DuplicateKeyError:
                # Done by a run that died before its checkpoint: not done twice.
                await db["repeats"].insert_one({"effect": n})
            await ctx.checkpoint(n + 1)
            await asyncio.sleep(EFFECT_SECONDS)

    return count


async def main(uri: str, db_name: str) -> None:
    client = make_client(uri)
    db = client[db_name]
    scheduler = aiojobs.Scheduler()
    kinds = JobKinds()
    owner: list[str] = []
    kinds.register("count", counter(db, owner))
    runner = JobRunner(
        JobStore(db), kinds, scheduler, SystemClock(), lease_seconds=LEASE_SECONDS, poll_seconds=0.1
    )
    owner.append(runner.owner)
    print(f"owner {runner.owner}", flush=True)
    runner.start()
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
