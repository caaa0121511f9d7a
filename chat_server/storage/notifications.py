"""A record per offline-notification e-mail, written before the e-mail is sent.

The key is (recipient, thread, first unseen seq): every job that finds the same
message waiting computes the same key, so a job run again after a crash, or two
jobs racing on two processes, meet on the unique ``_id`` instead of mailing twice.
The record names the job that owns the e-mail: only that job's own next run (after
its process died between recording and settling) sends it again.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class Intent(enum.Enum):
    NEW = "new"  # recorded just now: this run owns the e-mail
    RESUMED = "resumed"  # recorded by an earlier run of this job that did not finish
    SETTLED = "settled"  # sent, not to be sent, or owned by another job


class NotificationLog:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._sent = db["notifications_sent"]

    async def begin(
        self, account_id: str, thread_id: str, seq: int, *, job_id: str, now: datetime
    ) -> Intent:
        key = f"{account_id}/{thread_id}/{seq}"
        try:
            await self._sent.insert_one({"_id": key, "state": "recorded", "job": job_id, "at": now})
        except DuplicateKeyError:
            doc = await self._sent.find_one({"_id": key})
            if doc is not None and doc["state"] == "recorded" and doc["job"] == job_id:
                return Intent.RESUMED
            return Intent.SETTLED
        return Intent.NEW

    async def settle(self, account_id: str, thread_id: str, seq: int, outcome: str) -> None:
        await self._sent.update_one(
            {"_id": f"{account_id}/{thread_id}/{seq}"}, {"$set": {"state": outcome}}
        )
