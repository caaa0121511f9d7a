"""A practice thread's provider side follows the newest signed membership list, even
when two publications are applied out of order (issue 12, the review's stale-list
finding): an older list never brings back a member a newer one removed."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.storage.threads import ThreadStore

Db = AsyncDatabase[dict[str, Any]]


async def _practice_thread(store: ThreadStore, clock: ManualClock, epoch: int) -> str:
    thread = await store.create(
        "thread-1",
        patient_id="ann",
        provider_kind="practice",
        provider_id="practice-1",
        participants=["ann", "alice"],
        roles={"ann": "patient", "alice": "practitioner"},
        now=clock.now(),
        membership_epoch=epoch,
    )
    return thread.id


async def test_an_older_list_applied_late_changes_nothing(db: Db, clock: ManualClock) -> None:
    store = ThreadStore(db)
    thread_id = await _practice_thread(store, clock, epoch=1)
    # Epoch 3 removed alice and added bob; epoch 2 (alice and carol) is handled late.
    newer = await store.set_provider_members("practice-1", {"bob": "staff"}, 3, clock.now())
    assert [after.participants for _, after in newer] == [("ann", "bob")]
    late = await store.set_provider_members(
        "practice-1", {"alice": "practitioner", "carol": "staff"}, 2, clock.now()
    )
    assert late == []
    thread = await store.get(thread_id)
    assert thread is not None
    assert (thread.participants, dict(thread.roles)) == (
        ("ann", "bob"),
        {"ann": "patient", "bob": "staff"},
    )


async def test_a_thread_stored_from_an_older_list_catches_up(db: Db, clock: ManualClock) -> None:
    store = ThreadStore(db)
    thread_id = await _practice_thread(store, clock, epoch=1)
    # The same members under a newer epoch: nothing to announce, but the thread
    # now records the newer epoch, so the older list can no longer apply.
    assert (
        await store.set_provider_members("practice-1", {"alice": "practitioner"}, 2, clock.now())
        == []
    )
    assert (
        await store.set_provider_members("practice-1", {"mallory": "staff"}, 1, clock.now()) == []
    )
    doc = await db["threads"].find_one({"_id": thread_id})
    assert doc is not None
    assert (doc["participants"], doc["membership_epoch"]) == (["ann", "alice"], 2)


async def test_only_the_practices_own_threads_follow_its_list(db: Db, clock: ManualClock) -> None:
    store = ThreadStore(db)
    # A practitioner thread whose provider id happens to equal a practice id.
    await store.create(
        "thread-2",
        patient_id="ann",
        provider_kind="practitioner",
        provider_id="practice-1",
        participants=["ann", "practice-1"],
        roles={"ann": "patient", "practice-1": "practitioner"},
        now=clock.now(),
    )
    assert await store.set_provider_members("practice-1", {"bob": "staff"}, 5, clock.now()) == []
