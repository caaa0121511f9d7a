"""A 10,000-recipient campaign whose worker is SIGKILLed at random points and taken
over by fresh processes delivers exactly 10,000 times, once to each patient."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from pymongo import MongoClient

from chat_server.clock import SystemClock
from chat_server.handlers.mailings import FANOUT_KIND
from chat_server.jobs import JobStore
from chat_server.model.campaigns import CampaignEvent, CampaignState
from chat_server.storage.campaigns import CampaignStore
from chat_server.storage.indexes import ensure_indexes
from chat_server.storage.mongo import make_client
from e2e_crypto.keys import DeviceKeys
from tests.faults.harness import until
from tests.functional.mailing_worker import LEASE_SECONDS
from tests.mailings import seed_campaign, synthetic_patients
from tests.services import Services

RECIPIENTS = 10_000
KILLS = 3
CAMPAIGN = "flu-campaign-killed-01"


@pytest.fixture
def db_name(services: Services) -> Iterator[str]:
    name = f"mailings_{uuid4().hex[:12]}"
    yield name
    with MongoClient[dict[str, Any]](services.mongo.uri) as client:
        client.drop_database(name)


def _worker(uri: str, db_name: str, tmp: Path, n: int) -> subprocess.Popen[bytes]:
    with (tmp / f"worker-{n}.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.functional.mailing_worker", uri, db_name, str(tmp)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.timeout(300)
async def test_a_campaign_killed_at_random_points_delivers_exactly_once_each(
    services: Services, db_name: str, tmp_path: Path
) -> None:
    seed = random.randrange(2**32)
    print(f"random seed {seed}")  # to replay a failure
    rng = random.Random(seed)
    client = make_client(services.mongo.uri)
    db = client[db_name]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        await ensure_indexes(db)
        now = SystemClock().now()
        patients = synthetic_patients(RECIPIENTS)
        await seed_campaign(
            db,
            practice_id="practice-1",
            sender=DeviceKeys.generate("practice-admin", "console"),
            campaign_id=CAMPAIGN,
            patients=patients,
            now=now,
        )
        campaign = await CampaignStore(db).transition(
            CAMPAIGN, CampaignEvent.SCHEDULE, CampaignState.SCHEDULED, now, new_run=True
        )
        assert campaign is not None
        await JobStore(db).enqueue(
            FANOUT_KIND,
            {"campaign": CAMPAIGN, "run": campaign.run},
            now=now,
            run_at=now,
            max_attempts=10,
            dedupe_key=f"{CAMPAIGN}:{campaign.run}",
        )
        deliveries = db["campaign_deliveries"]
        for n in range(KILLS):
            workers.append(_worker(services.mongo.uri, db_name, tmp_path, n))
            before = await deliveries.count_documents({})
            target = before + rng.randrange(50, 2500)

            async def reached(target: int = target) -> bool:
                return await deliveries.count_documents({}) >= target

            await until(reached, 120, f"kill {n}: deliveries past {target}")
            workers[-1].kill()  # SIGKILL, mid-batch or between two
            workers[-1].wait()
        assert await deliveries.count_documents({}) < RECIPIENTS  # killed before the end
        workers.append(_worker(services.mongo.uri, db_name, tmp_path, KILLS))

        async def done() -> bool:
            doc = await db["campaigns"].find_one({"_id": CAMPAIGN}, {"state": 1})
            return doc is not None and doc["state"] == "done"

        await until(done, 120, "the last worker to finish the campaign")
        assert await deliveries.count_documents({}) == RECIPIENTS
        assert await deliveries.count_documents({"state": "delivered"}) == RECIPIENTS
        delivered = await deliveries.distinct("patient", {"campaign": CAMPAIGN})
        assert sorted(delivered) == sorted(p.account_id for p in patients)
        [job] = [job async for job in db["jobs"].find({"kind": FANOUT_KIND})]
        assert job["state"] == "done"
        assert job["attempts"] == KILLS + 1  # taken over after every kill
        assert LEASE_SECONDS < 5
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        await client.close()
