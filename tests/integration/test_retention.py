"""Retention as one durable job (``retention``), its time driven by a manual clock,
against a real MongoDB: what has been kept long enough is deleted whole, nothing
else, and each pass is audited with counts only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.handlers.retention import (
    RETENTION_DEDUPE_KEY,
    RETENTION_KIND,
    YEAR,
    RetentionPolicy,
)
from chat_server.jobs import Job, JobState, JobStore
from chat_server.mail import MemoryOutbox
from chat_server.model.campaigns import Campaign, CampaignEvent, CampaignState, DeliveryState
from chat_server.model.paid_chats import PaidChat
from chat_server.model.queue import Outcome, QueueItem
from chat_server.model.threads import (
    CareEvent,
    PaidEvent,
    PaidState,
    PanelEvent,
    PanelState,
    ThreadState,
)
from chat_server.settings import Settings
from chat_server.storage.attachments import AttachmentStore
from chat_server.storage.audit import AuditStore
from chat_server.storage.campaigns import CampaignStore, Recipient
from chat_server.storage.messages import MessageStore, NewMessage, StoredMessage
from chat_server.storage.paid_chats import PaidChatStore
from chat_server.storage.panel_queue import QueueStore
from chat_server.storage.retired_keys import RetiredKeyStore
from chat_server.storage.threads import ThreadStore

Db = AsyncDatabase[dict[str, Any]]
Client = TestClient[web.Request, web.Application]
DAY = timedelta(days=1)
POLICY = RetentionPolicy({})  # only its run hour (3 UTC, the default) is used here


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return replace(
        settings,
        retention_panel_days=30,
        retention_unpaid_days=30,
        retention_care_years=30,
        retention_paid_years=30,
        retention_batch_size=2,  # several batches, and checkpoints, per kind
        retention_pause_ms=0,
        jobs_poll_seconds=0.05,
    )


@pytest.fixture
def start(
    aiohttp_client: Any, quick: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> Callable[[], Awaitable[Client]]:
    async def started() -> Client:
        client: Client = await aiohttp_client(
            create_app(quick, clock=clock, mailer=outbox, sms=outbox)
        )
        return client

    return started


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def retention_job(db: Db) -> Job:
    jobs = await JobStore(db).listing(states=list(JobState))
    [job] = [job for job in jobs if job.kind == RETENTION_KIND]
    return job


def pass_over(db: Db, clock: ManualClock) -> Callable[[], Awaitable[bool]]:
    """The job finished a pass at the clock's time and waits for the next run hour."""

    async def done() -> bool:
        job = await retention_job(db)
        return (
            job.state is JobState.DUE
            and job.run_at == POLICY.next_run(clock.now())
            and job.cursor is None
            and job.attempts == 0
        )

    return done


# -- seeding, through the stores ----------------------------------------------------------


def _stamp(record: StoredMessage) -> bytes:
    return b"s" * 32


async def conversation(db: Db, clock: ManualClock, thread_id: str, messages: int) -> None:
    """``messages`` messages and one attachment in the conversation ``thread_id``."""
    store = MessageStore(db, clock, _stamp)
    store.start()
    try:
        for i in range(messages):
            cmid = f"m{i}"
            await store.append(
                NewMessage(
                    thread_id, "pat", "pat-phone", cmid, "message", b"ct" + cmid.encode(), b"f" * 32
                )
            )
    finally:
        await store.close()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"c" * 1000

    attachments = AttachmentStore(db)
    await attachments.upload(
        f"{thread_id}-file", thread_id=thread_id, uploader="pat", chunks=chunks(),
        max_bytes=10_000, now=clock.now(),
    )  # fmt: skip
    # Claimed by a message, as a send does: the purge of unclaimed uploads leaves it.
    assert await attachments.claim(
        [f"{thread_id}-file"], thread_id=thread_id, uploader="pat", now=clock.now()
    )


async def question(
    db: Db, clock: ManualClock, qid: str, *, closed: bool = True, paid: bool = False
) -> None:
    queue = QueueStore(db)
    now = clock.now()
    await queue.add(
        QueueItem(qid, "covid", "pat", PanelState.QUEUED, now),
        day="paid" if paid else now.date().isoformat(),
        now=now,
    )
    await conversation(db, clock, qid, messages=3)
    if closed:
        closing = {"state": str(PanelState.CLOSED), "outcome": str(Outcome.WITHDRAWN)}
        moved = await queue.move(
            qid,
            {"state": str(PanelState.QUEUED)},
            {"$set": {**closing, "closed_at": now}},
            event=PanelEvent.WITHDRAW,
            actor="pat",
        )
        assert moved is not None


async def care_thread(db: Db, clock: ManualClock, thread_id: str) -> None:
    threads = ThreadStore(db)
    await threads.create(
        thread_id, patient_id="pat", provider_kind="practitioner", provider_id="doc",
        participants=["pat", "doc"], now=clock.now(),
    )  # fmt: skip
    await conversation(db, clock, thread_id, messages=3)
    closed = await threads.transition(
        thread_id, [ThreadState.REQUESTED], ThreadState.CLOSED, clock.now(),
        event=CareEvent.CLOSE, actor="pat",
    )  # fmt: skip
    assert closed is not None


async def unpaid_chat(db: Db, clock: ManualClock, thread_id: str) -> None:
    """A paid chat whose checkout expired: its question was stored, never queued."""
    chats = PaidChatStore(db)
    now = clock.now()
    await chats.create(
        PaidChat(thread_id, "pat", "covid", PaidState.PENDING_PAYMENT, 600, "eur", now)
    )
    await conversation(db, clock, thread_id, messages=1)
    closing = {"state": str(PaidState.CLOSED), "closed_at": now, "closed_reason": "unpaid"}
    moved = await chats.move(
        thread_id, [PaidState.PENDING_PAYMENT], closing, event=PaidEvent.CHECKOUT_EXPIRED
    )
    assert moved is not None


async def campaign(db: Db, clock: ManualClock, campaign_id: str, patients: int) -> None:
    """A mailing sent to ``patients`` patients (each has a delivery), then finished."""
    store, now = CampaignStore(db), clock.now()
    await store.create(Campaign(campaign_id, "practice", "admin", CampaignState.DRAFT, now, b"ct"))
    recipients = [Recipient(f"p{i}", (b"slip",)) for i in range(patients)]
    await store.add_recipients(campaign_id, recipients, now)
    sending = await store.transition(
        campaign_id, CampaignEvent.START, CampaignState.SENDING, now,
        from_states=[CampaignState.DRAFT],
    )  # fmt: skip
    assert sending is not None
    await store.record_deliveries(
        sending, [(r.patient, DeliveryState.DELIVERED) for r in recipients], now
    )
    done = await store.transition(campaign_id, CampaignEvent.FINISH, CampaignState.DONE, now)
    assert done is not None


async def mailing_left(db: Db, campaign_id: str) -> list[int]:
    return [
        await db["campaigns"].count_documents({"_id": campaign_id}),
        await db["campaign_recipients"].count_documents({"campaign": campaign_id}),
        await db["campaign_deliveries"].count_documents({"campaign": campaign_id}),
    ]


async def stored(db: Db, thread_id: str) -> dict[str, int]:
    """What is left of a conversation, per collection."""
    counts = {
        "messages": await db["messages"].count_documents({"thread": thread_id}),
        "files": await db["attachments.files"].count_documents({"metadata.thread": thread_id}),
        "chunks": await db["attachments.chunks"].count_documents({"files_id": f"{thread_id}-file"}),
    }
    for name in ("panel_questions", "threads", "paid_chats"):
        counts[name] = await db[name].count_documents({"_id": thread_id})
    return {name: count for name, count in counts.items() if count}


async def retention_runs(db: Db) -> list[dict[str, Any]]:
    return [
        doc["details"]
        async for doc in db["audit_log"].find({"action": "retention_run"}).sort("seq", 1)
    ]


# -- the tests -------------------------------------------------------------------------------


async def test_a_closed_question_goes_after_its_days_a_younger_or_open_one_stays(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    await question(db, clock, "q-old")
    await question(db, clock, "q-open", closed=False)
    await care_thread(db, clock, "care")
    await unpaid_chat(db, clock, "unpaid")
    clock.advance((10 * DAY).total_seconds())
    await question(db, clock, "q-young")
    await start()
    job = await retention_job(db)
    assert job.run_at == POLICY.next_run(clock.now())  # daily, at the run hour

    clock.advance((21 * DAY).total_seconds())  # q-old closed 31 days ago, q-young 21
    await until(pass_over(db, clock), "a retention pass")

    assert await stored(db, "q-old") == {}
    assert await stored(db, "unpaid") == {}
    full = {"messages": 3, "files": 1, "chunks": 1}
    assert await stored(db, "q-young") == {**full, "panel_questions": 1}
    assert await stored(db, "q-open") == {**full, "panel_questions": 1}  # never closed
    assert await stored(db, "care") == {**full, "threads": 1}  # kept for years
    [run] = await retention_runs(db)
    assert run == {
        "panel_deleted": 1, "paid_deleted": 0, "unpaid_deleted": 1, "care_deleted": 0,
        "mailing_deleted": 0, "jobs_deleted": 0, "messages_deleted": 4,
        "attachments_deleted": 2,
    }  # fmt: skip
    assert await AuditStore(db).verify() is None

    # An open question is never deleted, however old.
    clock.advance((3 * 365 * DAY).total_seconds())
    await until(pass_over(db, clock), "a later pass")
    assert await stored(db, "q-open") == {**full, "panel_questions": 1}
    assert await stored(db, "q-young") == {}


async def test_a_care_thread_and_a_paid_chat_are_kept_for_their_years(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    await care_thread(db, clock, "care")
    await question(db, clock, "paid", paid=True)
    await start()
    clock.advance((YEAR * 29).total_seconds())
    await until(pass_over(db, clock), "a pass 29 years on")
    assert await stored(db, "care") == {"messages": 3, "files": 1, "chunks": 1, "threads": 1}
    assert await stored(db, "paid") == {
        "messages": 3, "files": 1, "chunks": 1, "panel_questions": 1,
    }  # fmt: skip

    clock.advance((YEAR * 1 + 2 * DAY).total_seconds())
    await until(pass_over(db, clock), "a pass 30 years on")
    assert await stored(db, "care") == {}
    assert await stored(db, "paid") == {}
    last = (await retention_runs(db))[-1]
    assert (last["care_deleted"], last["paid_deleted"], last["messages_deleted"]) == (1, 1, 6)


async def test_an_erased_persons_kept_keys_go_with_the_last_thread_retention_deletes(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    """The public keys kept after an erasure to verify retained threads
    (storage/retired_keys.py) are deleted by the pass that deletes the last of them."""
    await care_thread(db, clock, "care")
    await question(db, clock, "paid", paid=True)
    await question(db, clock, "q-open", closed=False)
    retired = RetiredKeyStore(db)
    await retired.keep("pat", "root", [{"seq": 1, "device_id": "pat-phone"}], ["care", "paid"])
    await retired.keep("other", "root", [], ["q-open"])
    await start()
    clock.advance((YEAR * 29).total_seconds())
    await until(pass_over(db, clock), "a pass 29 years on")
    assert sorted(await db["retired_device_keys"].distinct("_id")) == ["other", "pat"]

    clock.advance((YEAR * 1 + 2 * DAY).total_seconds())
    await until(pass_over(db, clock), "a pass 30 years on")
    assert await stored(db, "care") == {}
    assert await stored(db, "paid") == {}
    assert await db["retired_device_keys"].distinct("_id") == ["other"]  # its thread is open


async def test_a_pass_taken_over_from_a_dead_process_resumes_from_its_cursor(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    for i in range(5):
        await question(db, clock, f"q{i}")
        clock.advance(60)
    closed_at = [
        (await db["panel_questions"].find_one({"_id": f"q{i}"}) or {})["closed_at"]
        for i in range(5)
    ]
    clock.advance((31 * DAY).total_seconds())
    # A process began the pass, deleted the first three questions' worth (its cursor
    # says so: after q2), checkpointed, then died. q0-q2 are left in place here, so
    # that a resumed pass that started over instead would be seen deleting them.
    jobs, now = JobStore(db), clock.now()
    await jobs.enqueue(
        RETENTION_KIND, {}, now=now, run_at=now, max_attempts=8, dedupe_key=RETENTION_DEDUPE_KEY
    )
    dead = await jobs.take("dead", now=now, lease=timedelta(seconds=30), kinds=[RETENTION_KIND])
    assert dead is not None
    progress = {
        "now": now,
        "step": 0,  # the first kind: free panel questions
        "after": [closed_at[2], "q2"],
        "counts": {"panel": 3},
        "removed": {"panel_questions": 3, "messages": 9, "attachments": 3},
    }
    assert await jobs.heartbeat(
        dead.id, "dead", now=now, lease=timedelta(seconds=30), cursor=progress
    )

    await start()
    clock.advance(31)  # its lease runs out: this process takes the job over
    await until(pass_over(db, clock), "the resumed pass")
    assert [await stored(db, f"q{i}") != {} for i in range(5)] == [True, True, True, False, False]
    [run] = await retention_runs(db)
    assert (run["panel_deleted"], run["messages_deleted"]) == (5, 15)  # its counts carried on

    clock.advance(DAY.total_seconds())
    await until(pass_over(db, clock), "the next pass")
    assert [await stored(db, f"q{i}") for i in range(5)] == [{}] * 5
    assert (await retention_runs(db))[-1]["panel_deleted"] == 3


async def test_a_finished_mailing_and_a_failed_job_go_after_their_days(
    start: Callable[[], Awaitable[Client]], db: Db, clock: ManualClock
) -> None:
    await campaign(db, clock, "flu-2026", patients=5)  # several batches of 2
    jobs = JobStore(db)
    failed = await jobs.enqueue(
        "gone_kind", {}, now=clock.now(), run_at=clock.now(), max_attempts=1
    )
    assert failed is not None
    await jobs.fail(failed, None, now=clock.now(), error="KeyError")
    await start()
    clock.advance((100 * DAY).total_seconds())
    await until(pass_over(db, clock), "a pass 100 days on")
    assert await mailing_left(db, "flu-2026") == [1, 5, 5]  # a year by default
    assert await jobs.get(failed) is None  # 90 days by default

    clock.advance((300 * DAY).total_seconds())
    await until(pass_over(db, clock), "a pass 400 days on")
    assert await mailing_left(db, "flu-2026") == [0, 0, 0]
    runs = await retention_runs(db)
    assert [(r["mailing_deleted"], r["jobs_deleted"]) for r in runs] == [(0, 1), (1, 0)]


def test_the_run_is_daily_at_the_hour() -> None:
    policy = RetentionPolicy({}, hour_utc=3)
    at = datetime.fromisoformat("2026-03-01T02:59:59+00:00")
    assert policy.next_run(at) == datetime.fromisoformat("2026-03-01T03:00:00+00:00")
    assert policy.next_run(at + timedelta(seconds=1)) == datetime.fromisoformat(
        "2026-03-02T03:00:00+00:00"
    )
