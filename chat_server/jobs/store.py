"""Durable jobs as documents in the ``jobs`` collection.

One document per job::

    {_id, kind, payload, dedupe_key?, state: due|running|done|failed,
     run_at,                      # due: not before this time; running: = lease_until
     lease_owner, lease_until,    # running: which process, and until when
     heartbeat_at, cursor,        # progress a handler stored with checkpoint()
     attempts, max_attempts, error, created_at, updated_at, finished_at}

Taking a job is one atomic ``find_one_and_update``: a due job whose time has come,
or a running one whose lease has run out (its process died), becomes running under
the taker's lease. A running job's ``run_at`` follows its lease, so both cases are
"``run_at`` has passed" and one index, (state, run_at), finds them oldest first.
Every later write names the lease owner, so a process that lost its lease (it
stalled past the expiry and another took over) changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chat_server.tokens import new_id

# Finished jobs stay this long (a TTL index purges them), so a dedupe key stays
# taken for that long after its job is done.
DONE_RETENTION = timedelta(days=7)


class JobState(enum.StrEnum):
    DUE = "due"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    payload: Mapping[str, Any]
    state: JobState
    run_at: datetime
    attempts: int
    max_attempts: int
    cursor: Any
    lease_owner: str | None
    lease_until: datetime | None
    error: str | None
    created_at: datetime
    updated_at: datetime


def _job(doc: Mapping[str, Any]) -> Job:
    return Job(
        id=doc["_id"],
        kind=doc["kind"],
        payload=doc.get("payload", {}),
        state=JobState(doc["state"]),
        run_at=doc["run_at"],
        attempts=doc["attempts"],
        max_attempts=doc["max_attempts"],
        cursor=doc.get("cursor"),
        lease_owner=doc.get("lease_owner"),
        lease_until=doc.get("lease_until"),
        error=doc.get("error"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


class JobStore:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        *,
        write_db: AsyncDatabase[dict[str, Any]] | None = None,
    ) -> None:
        self._jobs = db["jobs"]
        # Jobs stored alongside a group-committed write go through that writer's pool.
        self._writes = (write_db if write_db is not None else db)["jobs"]

    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        now: datetime,
        run_at: datetime,
        max_attempts: int,
        dedupe_key: str | None = None,
    ) -> str | None:
        """The new job's id, or None if a job of this kind has this dedupe key."""
        doc = _new_job(kind, payload, now, run_at, max_attempts, dedupe_key)
        try:
            await self._jobs.insert_one(doc)
        except DuplicateKeyError:
            return None
        return str(doc["_id"])

    async def enqueue_many(
        self,
        kind: str,
        jobs: Sequence[tuple[Mapping[str, Any], datetime, str]],
        *,
        now: datetime,
        max_attempts: int,
    ) -> None:
        """Stores (payload, run at, dedupe key) jobs in one write; a job whose dedupe
        key is taken is not stored, the others are."""
        docs = [_new_job(kind, p, now, at, max_attempts, key) for p, at, key in jobs]
        try:
            await self._writes.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if exc.details.get("writeConcernErrors") or any(e.get("code") != 11000 for e in errors):
                raise

    async def take(
        self, owner: str, *, now: datetime, lease: timedelta, kinds: list[str]
    ) -> Job | None:
        """Leases the oldest due job (or one whose lease expired) to ``owner``."""
        doc = await self._jobs.find_one_and_update(
            {
                "state": {"$in": [JobState.DUE.value, JobState.RUNNING.value]},
                "run_at": {"$lte": now},
                "kind": {"$in": kinds},
            },
            {
                "$set": {
                    "state": JobState.RUNNING.value,
                    "lease_owner": owner,
                    "lease_until": now + lease,
                    "run_at": now + lease,
                    "heartbeat_at": now,
                    "updated_at": now,
                },
                "$inc": {"attempts": 1},
            },
            sort=[("run_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _job(doc)

    async def heartbeat(
        self, job_id: str, owner: str, *, now: datetime, lease: timedelta, cursor: Any = ...
    ) -> bool:
        """Renews the lease (and stores ``cursor`` if given); False if it was lost."""
        fields: dict[str, Any] = {
            "lease_until": now + lease,
            "run_at": now + lease,
            "heartbeat_at": now,
            "updated_at": now,
        }
        if cursor is not ...:
            fields["cursor"] = cursor
        result = await self._jobs.update_one(self._held(job_id, owner), {"$set": fields})
        return result.matched_count == 1

    async def finish(self, job_id: str, owner: str, *, now: datetime) -> None:
        await self._jobs.update_one(
            self._held(job_id, owner),
            {
                "$set": {
                    "state": JobState.DONE.value,
                    "finished_at": now,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_until": None,
                }
            },
        )

    async def reschedule(
        self, job_id: str, owner: str, *, now: datetime, run_at: datetime, error: str | None
    ) -> None:
        """Due again at ``run_at``; a retry keeps its error, a planned run clears attempts."""
        fields: dict[str, Any] = {
            "state": JobState.DUE.value,
            "run_at": run_at,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
        update: dict[str, Any] = {"$set": fields}
        if error is None:
            fields["attempts"] = 0
        else:
            fields["error"] = error
        await self._jobs.update_one(self._held(job_id, owner), update)

    async def fail(self, job_id: str, owner: str | None, *, now: datetime, error: str) -> None:
        """Kept, with its error, for the operator (``carechat admin jobs``)."""
        where = self._held(job_id, owner) if owner is not None else {"_id": job_id}
        await self._jobs.update_one(
            where,
            {
                "$set": {
                    "state": JobState.FAILED.value,
                    "error": error,
                    "finished_at": now,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_until": None,
                }
            },
        )

    async def revive(self, kind: str, dedupe_key: str, *, now: datetime) -> bool:
        """Makes a failed job due again, its attempts reset; False if none was failed.

        For a recurring job (one that runs again later and never finishes): failed,
        it would hold its dedupe key and no process could enqueue it again.
        """
        result = await self._jobs.update_one(
            {"kind": kind, "dedupe_key": dedupe_key, "state": JobState.FAILED.value},
            {
                "$set": {
                    "state": JobState.DUE.value,
                    "run_at": now,
                    "attempts": 0,
                    "updated_at": now,
                },
                "$unset": {"finished_at": ""},
            },
        )
        return result.modified_count == 1

    async def retry(self, job_id: str, *, now: datetime) -> Job | None:
        """A moderator's retry: a failed job due now, its attempts reset; None when
        the job is missing or not failed."""
        doc = await self._jobs.find_one_and_update(
            {"_id": job_id, "state": JobState.FAILED.value},
            {
                "$set": {
                    "state": JobState.DUE.value,
                    "run_at": now,
                    "attempts": 0,
                    "updated_at": now,
                },
                "$unset": {"finished_at": ""},
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _job(doc)

    async def release_all(self, owner: str, *, now: datetime) -> int:
        """On a clean shutdown: hand this process's running jobs back at once.

        The interrupted attempt is not counted; the next taker resumes from the cursor.
        """
        result = await self._jobs.update_many(
            {"state": JobState.RUNNING.value, "lease_owner": owner},
            {
                "$set": {
                    "state": JobState.DUE.value,
                    "run_at": now,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_until": None,
                },
                "$inc": {"attempts": -1},
            },
        )
        return result.modified_count

    async def get(self, job_id: str) -> Job | None:
        doc = await self._jobs.find_one({"_id": job_id})
        return None if doc is None else _job(doc)

    async def listing(self, *, states: list[JobState], limit: int = 100) -> list[Job]:
        """Newest first, for the operator."""
        cursor = self._jobs.find(
            {"state": {"$in": [s.value for s in states]}},
            sort=[("updated_at", DESCENDING)],
            limit=limit,
        )
        return [_job(doc) async for doc in cursor]

    @staticmethod
    def _held(job_id: str, owner: str) -> dict[str, Any]:
        return {"_id": job_id, "state": JobState.RUNNING.value, "lease_owner": owner}


def _new_job(
    kind: str,
    payload: Mapping[str, Any],
    now: datetime,
    run_at: datetime,
    max_attempts: int,
    dedupe_key: str | None,
) -> dict[str, Any]:
    job_id = new_id()
    doc: dict[str, Any] = {
        "_id": job_id,
        "kind": kind,
        "payload": dict(payload),
        "state": JobState.DUE.value,
        "run_at": run_at,
        "attempts": 0,
        "max_attempts": max_attempts,
        "cursor": None,
        "lease_owner": None,
        "lease_until": None,
        "error": None,
        "created_at": now,
        "updated_at": now,
    }
    if dedupe_key is not None:
        doc["dedupe_key"] = dedupe_key
    return doc
