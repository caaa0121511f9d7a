"""The device-list and open-thread caches across processes: a change made through
another process's store applies here within one poll of its change count, and a
change written with no count (behind every cache's back) does not, however long we
wait short of the keep limit. Each "process" is its own handler over the same
database, as in test_blocks.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.handlers.access import (
    OPEN_THREAD_KEEP_SECONDS,
    OPEN_THREAD_POLL_SECONDS,
    ThreadGate,
)
from chat_server.handlers.directory import KEEP_SECONDS, POLL_SECONDS, DeviceDirectory
from chat_server.model.threads import CareEvent, ThreadState
from chat_server.principal import Principal, Role
from chat_server.storage.attachments import AttachmentStore
from chat_server.storage.devices import Device, DeviceStore
from chat_server.storage.threads import ThreadStore
from e2e_crypto.wire import to_base64url

Db = AsyncDatabase[dict[str, Any]]


def _device(account_id: str, device_id: str, at: datetime) -> Device:
    key = to_base64url(device_id.encode().ljust(32, b"."))
    return Device(device_id, account_id, key, key, "certificate", at, None)


async def _ids(directory: DeviceDirectory, account_id: str) -> list[str]:
    return [d.device_id for d in await directory.of_account(account_id)]


async def test_a_device_added_or_revoked_elsewhere_applies_within_one_poll(
    db: Db, clock: ManualClock
) -> None:
    here, there = DeviceDirectory(DeviceStore(db), clock), DeviceStore(db)
    await there.add(_device("ann", "phone", clock.now()))
    assert await _ids(here, "ann") == ["phone"]
    assert await _ids(here, "bob") == []

    # Written behind every cache's back (no change counted): the kept list stands,
    # well past the 30 s the entries used to live.
    await db["devices"].update_one({"_id": "phone"}, {"$set": {"revoked_at": clock.now()}})
    clock.advance(POLL_SECONDS + 60)
    assert await _ids(here, "ann") == ["phone"]

    # Added through the other process: counted, so seen within one poll, with what
    # was written behind the cache's back.
    await there.add(_device("bob", "laptop", clock.now()))
    assert await _ids(here, "bob") == []
    clock.advance(POLL_SECONDS)
    assert await _ids(here, "bob") == ["laptop"]
    assert await _ids(here, "ann") == []

    # Revoked through the other process, one device and then all of an account's.
    await there.add(_device("bob", "tablet", clock.now()))
    clock.advance(POLL_SECONDS)
    assert await _ids(here, "bob") == ["laptop", "tablet"]
    assert await there.revoke("bob", "laptop", clock.now())
    clock.advance(POLL_SECONDS)
    assert await _ids(here, "bob") == ["tablet"]
    assert await there.revoke_all("bob", clock.now()) == ["tablet"]
    clock.advance(POLL_SECONDS)
    assert await _ids(here, "bob") == []


async def test_an_uncounted_device_change_is_still_seen_after_the_keep_limit(
    db: Db, clock: ManualClock
) -> None:
    here, there = DeviceDirectory(DeviceStore(db), clock), DeviceStore(db)
    await there.add(_device("ann", "phone", clock.now()))
    assert await _ids(here, "ann") == ["phone"]
    await db["devices"].update_one({"_id": "phone"}, {"$set": {"revoked_at": clock.now()}})
    clock.advance(KEEP_SECONDS)
    assert await _ids(here, "ann") == []


async def _open_thread(threads: ThreadStore, clock: ManualClock) -> str:
    await threads.create(
        "t1",
        patient_id="ann",
        provider_kind="practitioner",
        provider_id="doc",
        participants=["ann", "doc"],
        now=clock.now(),
    )
    assert await threads.transition(
        "t1",
        [ThreadState.REQUESTED],
        ThreadState.OPEN,
        clock.now(),
        event=CareEvent.ACCEPT,
        actor="doc",
    )
    return "t1"


async def test_a_thread_closed_elsewhere_is_refused_here_within_one_poll(
    db: Db, clock: ManualClock
) -> None:
    there = ThreadStore(db)
    here = ThreadGate(ThreadStore(db), AttachmentStore(db), clock)
    thread_id = await _open_thread(there, clock)
    ann = Principal("ann", Role.PATIENT, "session")
    assert (await here.open_thread(ann, thread_id)).state is ThreadState.OPEN

    # Changed behind every cache's back (no change counted): the kept thread stands.
    await db["threads"].update_one({"_id": thread_id}, {"$set": {"participants": ["doc"]}})
    clock.advance(OPEN_THREAD_POLL_SECONDS + 60)
    assert (await here.open_thread(ann, thread_id)).participants == ("ann", "doc")

    # Closed through the other process (no event reaches this one): within one poll.
    assert await there.transition(
        thread_id,
        [ThreadState.OPEN],
        ThreadState.CLOSED,
        clock.now(),
        event=CareEvent.CLOSE,
        actor="doc",
    )
    assert (await here.open_thread(ann, thread_id)).state is ThreadState.OPEN
    clock.advance(OPEN_THREAD_POLL_SECONDS)
    doc = Principal("doc", Role.PRACTITIONER, "session")
    assert (await here.open_thread(doc, thread_id)).state is ThreadState.CLOSED


async def test_new_practice_members_apply_elsewhere_within_one_poll(
    db: Db, clock: ManualClock
) -> None:
    there = ThreadStore(db)
    here = ThreadGate(ThreadStore(db), AttachmentStore(db), clock)
    await there.create(
        "t2",
        patient_id="ann",
        provider_kind="practice",
        provider_id="surgery",
        participants=["ann", "doc"],
        roles={"ann": "patient", "doc": "practitioner"},
        now=clock.now(),
    )
    await there.transition(
        "t2",
        [ThreadState.REQUESTED],
        ThreadState.OPEN,
        clock.now(),
        event=CareEvent.ACCEPT,
        actor="doc",
    )
    ann = Principal("ann", Role.PATIENT, "session")
    assert (await here.open_thread(ann, "t2")).participants == ("ann", "doc")
    changed = await there.set_provider_members(
        "surgery", {"doc": "practitioner", "nurse": "practitioner"}, 1, clock.now()
    )
    assert [after.participants for _, after in changed] == [("ann", "doc", "nurse")]
    assert (await here.open_thread(ann, "t2")).participants == ("ann", "doc")
    clock.advance(OPEN_THREAD_POLL_SECONDS)
    assert (await here.open_thread(ann, "t2")).participants == ("ann", "doc", "nurse")


async def test_an_uncounted_thread_change_is_still_seen_after_the_keep_limit(
    db: Db, clock: ManualClock
) -> None:
    there = ThreadStore(db)
    here = ThreadGate(ThreadStore(db), AttachmentStore(db), clock)
    thread_id = await _open_thread(there, clock)
    ann = Principal("ann", Role.PATIENT, "session")
    assert (await here.open_thread(ann, thread_id)).state is ThreadState.OPEN
    await db["threads"].update_one({"_id": thread_id}, {"$set": {"state": "closed"}})
    clock.advance(OPEN_THREAD_KEEP_SECONDS)
    assert (await here.open_thread(ann, thread_id)).state is ThreadState.CLOSED
