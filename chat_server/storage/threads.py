"""Threads, and where each device and account is in them (delivery cursors, read marks).

Documents map to ``chat_server.model.threads.Thread``; which moves are allowed is the
model's care machine, applied here as a conditional update.

A thread's state changes are single conditional updates (``find_one_and_update`` on
the expected state), so two people acting at once cannot both win.

Every change of a thread's state or participants also counts one change (collection
``thread_changes``, ``storage/change_counts.py``): processes that keep open threads in
memory ask that one number every few seconds (handlers/access.py: ``ThreadGate``).
Messages move only ``last_seq`` and ``last_message_at``, which no cache relies on, and
count nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from chat_server.clock import Clock
from chat_server.model.machines import OnTransition, Transition
from chat_server.model.threads import (
    CARE_THREAD,
    LIVE_CARE_STATES,
    CareEvent,
    Thread,
    ThreadKind,
    ThreadState,
)
from chat_server.storage.change_counts import ChangeCount
from chat_server.storage.paced import write_paced

log = logging.getLogger(__name__)


class ThreadExists(Exception):
    """A thread with that id is stored already."""


def thread_from_doc(doc: dict[str, Any]) -> Thread:
    return Thread(
        id=doc["_id"],
        kind=ThreadKind(doc["kind"]),
        state=ThreadState(doc["state"]),
        patient_id=doc["patient_id"],
        provider_kind=doc["provider_kind"],
        provider_id=doc["provider_id"],
        participants=tuple(doc["participants"]),
        roles=_roles(doc),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        last_seq=doc.get("last_seq", 0),
        last_message_at=doc.get("last_message_at"),
        opening=bytes(doc["opening"]) if doc.get("opening") is not None else None,
    )


def _roles(doc: dict[str, Any]) -> dict[str, str]:
    # Threads stored before roles were recorded: the two ends are known.
    roles = dict(doc.get("roles") or {})
    roles.setdefault(doc["patient_id"], "patient")
    if doc["provider_kind"] == "practitioner":
        roles.setdefault(doc["provider_id"], "practitioner")
    return roles


class ThreadStore:
    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], *, on_transition: OnTransition | None = None
    ) -> None:
        self._on_transition = on_transition
        self._threads = db["threads"]
        self._cursors = db["cursors"]
        self._reads = db["read_marks"]
        self._changes = ChangeCount(db["thread_changes"], "threads")

    async def create(
        self,
        thread_id: str,
        *,
        patient_id: str,
        provider_kind: str,
        provider_id: str,
        participants: list[str],
        now: datetime,
        roles: dict[str, str] | None = None,
        opening: bytes | None = None,
        membership_epoch: int = 0,
    ) -> Thread:
        """Raises ThreadExists if ``thread_id`` is taken (a client-chosen id, see
        ``ThreadOpening``). ``membership_epoch``: for a practice thread, the epoch of
        the signed membership list its provider side was taken from."""
        doc = {
            "_id": thread_id,
            "kind": str(ThreadKind.CARE),
            "state": str(CARE_THREAD.initial),
            "patient_id": patient_id,
            "provider_kind": provider_kind,
            "provider_id": provider_id,
            "participants": participants,
            "roles": roles or {},
            "membership_epoch": membership_epoch,
            "created_at": now,
            "updated_at": now,
            "last_seq": 0,
            "last_message_at": None,
        }
        if opening is not None:
            doc["opening"] = Binary(opening)
        try:
            await self._threads.insert_one(doc)
        except DuplicateKeyError:
            raise ThreadExists() from None
        return thread_from_doc(doc)

    async def get(self, thread_id: str) -> Thread | None:
        doc = await self._threads.find_one({"_id": thread_id})
        return thread_from_doc(doc) if doc else None

    async def for_account(self, account_id: str, limit: int = 200) -> list[Thread]:
        cursor = (
            self._threads.find({"participants": account_id}).sort("updated_at", -1).limit(limit)
        )
        return [thread_from_doc(doc) async for doc in cursor]

    async def transition(
        self,
        thread_id: str,
        allowed_from: list[ThreadState],
        to: ThreadState,
        now: datetime,
        *,
        event: CareEvent,
        actor: str | None,
    ) -> Thread | None:
        """The one place a care thread changes state; ``on_transition`` hears of it."""
        before = await self._threads.find_one_and_update(
            {"_id": thread_id, "state": {"$in": [str(s) for s in allowed_from]}},
            {"$set": {"state": str(to), "updated_at": now}},
        )
        if before is None:
            return None
        await self._changes.bump()
        if self._on_transition is not None:
            await self._on_transition(
                Transition(before["kind"], thread_id, str(event), before["state"], str(to), actor)
            )
        return thread_from_doc({**before, "state": str(to), "updated_at": now})

    async def version(self) -> int:
        """How many state and participant changes there have been (a change, not a
        count)."""
        return await self._changes.read()

    async def last_ended_request(
        self, patient_id: str, provider_id: str, states: list[ThreadState]
    ) -> Thread | None:
        doc = await self._threads.find_one(
            {
                "patient_id": patient_id,
                "provider_id": provider_id,
                "state": {"$in": [str(s) for s in states]},
            },
            sort=[("updated_at", -1)],
        )
        return thread_from_doc(doc) if doc else None

    async def set_provider_members(
        self, practice_id: str, members: dict[str, str], epoch: int, now: datetime
    ) -> list[tuple[Thread, Thread]]:
        """Makes ``members`` (account -> role), the practice's list of ``epoch``, the
        provider side of every live thread with the practice that an older list set;
        returns (before, after) of each thread that changed. A thread already at this
        epoch or a newer one is left alone, so two publications handled out of order
        never bring back a member the newer list removed."""
        older = {"$not": {"$gte": epoch}}  # threads stored before epochs match too
        live = {"$in": [str(ThreadState.REQUESTED), str(ThreadState.OPEN)]}
        query = {
            "provider_kind": "practice",
            "provider_id": practice_id,
            "state": live,
            "membership_epoch": older,
        }
        changed = []
        async for doc in self._threads.find(query):
            before = thread_from_doc(doc)
            roles = {before.patient_id: "patient", **members}
            participants = [before.patient_id, *sorted(members)]
            after = await self._threads.find_one_and_update(
                {"_id": before.id, "state": live, "membership_epoch": older},
                {
                    "$set": {
                        "participants": participants,
                        "roles": roles,
                        "membership_epoch": epoch,
                        "updated_at": now,
                    }
                },
                return_document=ReturnDocument.AFTER,
            )
            if set(participants) == set(before.participants) and roles == before.roles:
                continue
            if after is not None:
                changed.append((before, thread_from_doc(after)))
        if changed:
            await self._changes.bump()
        return changed

    async def live_between(self, patient_id: str, provider_id: str) -> Thread | None:
        doc = await self._threads.find_one(
            {
                "patient_id": patient_id,
                "provider_id": provider_id,
                "state": {"$in": [str(s) for s in LIVE_CARE_STATES]},
            }
        )
        return thread_from_doc(doc) if doc else None

    # -- cursors and read marks -----------------------------------------------------------

    async def device_cursors(self, device_key: str, thread_ids: list[str]) -> dict[str, int]:
        cursor = self._cursors.find({"device": device_key, "thread": {"$in": thread_ids}})
        return {doc["thread"]: doc["seq"] async for doc in cursor}

    async def advance_many(self, seqs: dict[tuple[str, str], int], *, within: float = 0.0) -> None:
        """Cumulative and monotonic: a late, smaller ack never moves a cursor back.
        Paced over ``within`` seconds (``storage/paced.py``)."""
        await write_paced(
            self._cursors,
            [
                UpdateOne({"device": device, "thread": thread}, {"$max": {"seq": seq}}, upsert=True)
                for (device, thread), seq in seqs.items()
            ],
            within=within,
        )

    async def any_device_has(self, account_id: str, thread_id: str, seq: int) -> bool:
        # Device cursor keys start with "<account id>:" (see handlers.sync: device_key).
        doc = await self._cursors.find_one(
            {"thread": thread_id, "device": {"$regex": f"^{account_id}:"}, "seq": {"$gte": seq}}
        )
        return doc is not None

    async def mark_read(self, account_id: str, thread_id: str, seq: int) -> None:
        await self._reads.update_one(
            {"account": account_id, "thread": thread_id}, {"$max": {"seq": seq}}, upsert=True
        )

    async def read_marks(self, account_id: str, thread_ids: list[str]) -> dict[str, int]:
        cursor = self._reads.find({"account": account_id, "thread": {"$in": thread_ids}})
        return {doc["thread"]: doc["seq"] async for doc in cursor}


class CursorBuffer:
    """Delivery cursors, kept in memory per (device, thread) and written every
    ``interval`` seconds, in small unordered bulks spread over half of it.

    Cursors are cumulative and ``$max``-merged, and one that lags costs nothing but a
    few messages a reconnecting device already has (it drops them by seq). So a busy
    process writes each device's latest cursor once per interval instead of once per
    ``delivered`` frame: at 1,000 devices, one bulk write instead of thousands of
    round trips. Readers on this process see the buffered values at once, and still
    see them while a flush is on its way to MongoDB.
    """

    def __init__(
        self,
        store: ThreadStore,
        interval: float,
        *,
        clock: Clock,
        writer: ThreadStore | None = None,
        on_flush: Callable[[float], object] = lambda seconds: None,
    ) -> None:
        self._store = store
        self._writer = writer or store
        self._interval = interval
        self._clock = clock
        self._on_flush = on_flush
        # (device key, thread) -> cursor, and (account, thread) -> the highest cursor
        # of any of the account's devices (what the notifier asks, once per message).
        self._pending: dict[tuple[str, str], int] = {}
        self._reached: dict[tuple[str, str], int] = {}
        # What the running flush is writing: still visible until MongoDB has it.
        self._writing: dict[tuple[str, str], int] = {}
        self._writing_reached: dict[tuple[str, str], int] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, account_id: str, device_key: str, thread_id: str, seq: int) -> None:
        _raise(self._pending, (device_key, thread_id), seq)
        _raise(self._reached, (account_id, thread_id), seq)

    # Both readers look at the buffer before they read MongoDB: a flush that ends while
    # they wait has already written what they saw in the buffer.

    async def device_cursors(self, device_key: str, thread_ids: list[str]) -> dict[str, int]:
        buffered = {
            thread_id: _highest((device_key, thread_id), self._pending, self._writing)
            for thread_id in thread_ids
        }
        cursors = await self._store.device_cursors(device_key, thread_ids)
        for thread_id, seq in buffered.items():
            if seq > cursors.get(thread_id, -1):
                cursors[thread_id] = seq
        return cursors

    async def any_device_has(self, account_id: str, thread_id: str, seq: int) -> bool:
        if _highest((account_id, thread_id), self._reached, self._writing_reached) >= seq:
            return True
        return await self._store.any_device_has(account_id, thread_id, seq)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cursor-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(PyMongoError):
            await self.flush()

    async def flush(self, *, within: float = 0.0) -> None:
        """Writes what is buffered, paced over ``within`` seconds (the periodic flush:
        ``storage/paced.py``); at once by default (shutdown, tests)."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        reached, self._reached = self._reached, {}
        self._writing, self._writing_reached = batch, reached
        started = self._clock.monotonic()
        try:
            await self._writer.advance_many(batch, within=within)
            self._on_flush(self._clock.monotonic() - started)
        except PyMongoError:
            # Put them back (unless newer ones arrived) and try again next interval.
            for key, seq in batch.items():
                _raise(self._pending, key, seq)
            for key, seq in reached.items():
                _raise(self._reached, key, seq)
            raise
        finally:
            self._writing, self._writing_reached = {}, {}

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                # Spread over half the interval: a thousand cursors in one bulk held
                # mongod for 100-170 ms, and every send meanwhile waited.
                await self.flush(within=self._interval / 2)
            except PyMongoError as exc:
                log.warning(
                    "cursor write failed; retrying", extra={"fields": {"error": type(exc).__name__}}
                )


def _raise(table: dict[tuple[str, str], int], key: tuple[str, str], seq: int) -> None:
    if seq > table.get(key, -1):
        table[key] = seq


def _highest(key: tuple[str, str], *tables: dict[tuple[str, str], int]) -> int:
    return max(table.get(key, -1) for table in tables)
