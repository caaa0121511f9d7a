"""Finding what has outlived its retention: one query per kind of stored conversation.

Each kind names the collection that owns it, what "ended" means there and the field
that says when. A batch is the next ``limit`` ended documents older than the cutoff
in (ended, ``_id``) order, after the last one the previous batch returned; an index
on (state, ended, ``_id``) answers it as one range scan, so a daily pass reads only
what it deletes, however many documents are kept::

    panel    panel_questions  closed, not paid          closed_at
    paid     panel_questions  closed, paid (day "paid") closed_at
    unpaid   paid_chats       closed, reason "unpaid"   closed_at
    care     threads          closed, declined, blocked updated_at (no move after)
    mailing  campaigns        done, cancelled           updated_at (no move after)
    jobs     jobs             failed                    finished_at
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.model.campaigns import CampaignState
from chat_server.model.threads import PaidState, PanelState, ThreadState


class RetainedKind(StrEnum):
    PANEL = "panel"
    PAID = "paid"
    UNPAID = "unpaid"
    CARE = "care"
    MAILING = "mailing"
    JOBS = "jobs"


@dataclass(frozen=True, slots=True)
class Expiry:
    collection: str
    ended: Mapping[str, Any]  # the query for "this one has ended"
    ended_at: str  # the field holding when


EXPIRIES: dict[RetainedKind, Expiry] = {
    RetainedKind.PANEL: Expiry(
        "panel_questions", {"state": str(PanelState.CLOSED), "day": {"$ne": "paid"}}, "closed_at"
    ),
    RetainedKind.PAID: Expiry(
        "panel_questions", {"state": str(PanelState.CLOSED), "day": "paid"}, "closed_at"
    ),
    RetainedKind.UNPAID: Expiry(
        "paid_chats", {"state": str(PaidState.CLOSED), "closed_reason": "unpaid"}, "closed_at"
    ),
    RetainedKind.CARE: Expiry(
        "threads",
        {
            "kind": "care",
            "state": {
                "$in": [
                    str(s) for s in (ThreadState.CLOSED, ThreadState.DECLINED, ThreadState.BLOCKED)
                ]
            },
        },
        "updated_at",
    ),
    RetainedKind.MAILING: Expiry(
        "campaigns",
        {"state": {"$in": [str(CampaignState.DONE), str(CampaignState.CANCELLED)]}},
        "updated_at",
    ),
    RetainedKind.JOBS: Expiry("jobs", {"state": "failed"}, "finished_at"),
}

# Where a batch resumes: the (ended, _id) of the last document the previous one saw.
Position = tuple[datetime, str]


class ExpiredItems:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    async def batch(
        self, kind: RetainedKind, *, before: datetime, after: Position | None, limit: int
    ) -> list[Position]:
        """The next ``limit`` documents of ``kind`` that ended before ``before``."""
        expiry = EXPIRIES[kind]
        at = expiry.ended_at
        query: dict[str, Any] = {**expiry.ended, at: {"$lt": before}}
        if after is not None:
            query["$or"] = [{at: {"$gt": after[0]}}, {at: after[0], "_id": {"$gt": after[1]}}]
        cursor = (
            self._db[expiry.collection]
            .find(query, {at: 1})
            .sort([(at, ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [(doc[at], doc["_id"]) async for doc in cursor]

    async def delete(self, kind: RetainedKind, ids: list[str]) -> int:
        """Deletes documents of a kind that owns nothing else (failed jobs)."""
        expiry = EXPIRIES[kind]
        result = await self._db[expiry.collection].delete_many(
            {"_id": {"$in": ids}, **expiry.ended}
        )
        return result.deleted_count
