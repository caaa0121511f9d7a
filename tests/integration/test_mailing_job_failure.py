"""A fan-out whose own batches keep failing pauses its campaign and says why; a
resume continues from the stored cursor, one delivery per patient."""

from __future__ import annotations

from typing import Any

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import app_client
from tests.faults.harness import until
from tests.mailings import (
    Db,
    campaign_state,
    practice_desk,
    seed_campaign,
    synthetic_patients,
    until_state,
)

CAMPAIGN = "failing-campaign-0001"


async def _fanout_job(db: Db) -> dict[str, Any]:
    job = await db["jobs"].find_one({"kind": "mailing_fanout", "payload.campaign": CAMPAIGN})
    assert job is not None
    return job


async def test_failing_batches_pause_the_campaign_and_a_resume_delivers_the_rest_once(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox, db: Db
) -> None:
    client = await app_client(
        aiohttp_client, settings, clock, outbox,
        mailing_batch_size=10, mailing_max_failed_batches=3,
    )  # fmt: skip
    desk = await practice_desk(client, outbox, "admin@practice.example")
    await seed_campaign(
        db,
        practice_id=desk.practice_id,
        sender=desk.device,
        campaign_id=CAMPAIGN,
        patients=synthetic_patients(30),
        now=clock.now(),
    )
    deliveries = db["campaign_deliveries"]
    # MongoDB takes the first batch's deliveries and refuses the rest: a real write
    # error, as from a database in trouble, on the second batch and every retry of it.
    await db.command(
        "collMod",
        "campaign_deliveries",
        validator={"patient": {"$lt": "p000010"}},
        validationAction="error",
    )
    await desk.admin.call("POST", f"/api/v1/campaigns/{CAMPAIGN}/schedule", {})

    for attempt, back_off in ((1, 5), (2, 10)):

        async def retrying(attempt: int = attempt) -> bool:
            job = await _fanout_job(db)
            return bool(job["state"] == "due" and job["attempts"] == attempt)

        await until(retrying, 20, f"failed attempt {attempt}")
        current = await campaign_state(desk, CAMPAIGN)
        assert (current["state"], current["pause_reason"]) == ("sending", None)
        clock.advance(back_off)  # the runner's back-off, on the injected clock

    # The third failed batch in a row pauses the campaign, with the reason; the job
    # ends there instead of retrying on into the failed-jobs list.
    paused = await until_state(desk, CAMPAIGN, "paused", 20)
    assert paused["pause_reason"] == "job_failed"
    assert paused["progress"]["delivered"] == 10
    job = await _fanout_job(db)
    assert (job["state"], job["attempts"]) == ("done", 3)
    stored = await db["campaigns"].find_one({"_id": CAMPAIGN})
    assert stored is not None
    assert (stored["cursor"], stored["failed_batches"]) == ("p000009", 3)

    # The cause fixed, the practice resumes: the new run starts from the cursor.
    await db.command("collMod", "campaign_deliveries", validator={})
    resumed = await desk.admin.call("POST", f"/api/v1/campaigns/{CAMPAIGN}/resume")
    assert (resumed["state"], resumed["pause_reason"]) == ("sending", None)
    done = await until_state(desk, CAMPAIGN, "done", 20)
    assert done["progress"]["delivered"] == 30
    assert await deliveries.count_documents({"campaign": CAMPAIGN}) == 30
    patients = await deliveries.distinct("patient", {"campaign": CAMPAIGN})
    assert sorted(patients) == [f"p{n:06d}" for n in range(30)]


async def test_a_batch_that_goes_through_ends_the_streak(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox, db: Db
) -> None:
    client = await app_client(
        aiohttp_client, settings, clock, outbox,
        mailing_batch_size=10, mailing_max_failed_batches=2,
    )  # fmt: skip
    desk = await practice_desk(client, outbox, "admin@practice.example")
    await seed_campaign(
        db,
        practice_id=desk.practice_id,
        sender=desk.device,
        campaign_id=CAMPAIGN,
        patients=synthetic_patients(30),
        now=clock.now(),
    )
    # Every batch fails once, then goes through on the next attempt, which fails on
    # the batch after it: three failures, never two in a row, so no pause.
    await db.command(
        "collMod",
        "campaign_deliveries",
        validator={"patient": {"$lt": "p000000"}},
        validationAction="error",
    )
    await desk.admin.call("POST", f"/api/v1/campaigns/{CAMPAIGN}/schedule", {})
    for attempt, allowed in ((1, "p000010"), (2, "p000020"), (3, "p000030")):

        async def retrying(attempt: int = attempt) -> bool:
            job = await _fanout_job(db)
            return bool(job["state"] == "due" and job["attempts"] == attempt)

        await until(retrying, 20, f"failed attempt {attempt}")
        assert (await campaign_state(desk, CAMPAIGN))["state"] == "sending"
        await db.command("collMod", "campaign_deliveries", validator={"patient": {"$lt": allowed}})
        clock.advance(5 * 2 ** (attempt - 1))

    done = await until_state(desk, CAMPAIGN, "done", 20)
    assert done["pause_reason"] is None
    assert done["progress"]["delivered"] == 30
    await db.command("collMod", "campaign_deliveries", validator={})
