"""Threads, and where each device and account is in them (delivery cursors, read marks).

A thread's state changes are single conditional updates (``find_one_and_update`` on
the expected state), so two people acting at once cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.notice import EMERGENCY_NOTICE


class ThreadKind(StrEnum):
    CARE = "care"


class ThreadState(StrEnum):
    REQUESTED = "requested"
    OPEN = "open"
    DECLINED = "declined"
    BLOCKED = "blocked"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Thread:
    id: str
    kind: ThreadKind
    state: ThreadState
    patient_id: str
    provider_kind: str
    provider_id: str
    participants: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    last_seq: int
    last_message_at: datetime | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Thread:
        return cls(
            id=doc["_id"],
            kind=ThreadKind(doc["kind"]),
            state=ThreadState(doc["state"]),
            patient_id=doc["patient_id"],
            provider_kind=doc["provider_kind"],
            provider_id=doc["provider_id"],
            participants=tuple(doc["participants"]),
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
            last_seq=doc.get("last_seq", 0),
            last_message_at=doc.get("last_message_at"),
        )

    def to_public(self, *, unread: int | None = None) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "thread_id": self.id,
            "kind": str(self.kind),
            "state": str(self.state),
            "patient_id": self.patient_id,
            "provider": {"kind": self.provider_kind, "id": self.provider_id},
            "participants": list(self.participants),
            "last_seq": self.last_seq,
            "created_at": self.created_at.isoformat(),
            "last_message_at": self.last_message_at.isoformat() if self.last_message_at else None,
            "notice": EMERGENCY_NOTICE,
        }
        if unread is not None:
            summary["unread"] = unread
        return summary


class ThreadStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._threads = db["threads"]
        self._cursors = db["cursors"]
        self._reads = db["read_marks"]

    async def create(
        self,
        thread_id: str,
        *,
        patient_id: str,
        provider_kind: str,
        provider_id: str,
        participants: list[str],
        now: datetime,
    ) -> Thread:
        doc = {
            "_id": thread_id,
            "kind": str(ThreadKind.CARE),
            "state": str(ThreadState.REQUESTED),
            "patient_id": patient_id,
            "provider_kind": provider_kind,
            "provider_id": provider_id,
            "participants": participants,
            "created_at": now,
            "updated_at": now,
            "last_seq": 0,
            "last_message_at": None,
        }
        await self._threads.insert_one(doc)
        return Thread.from_doc(doc)

    async def get(self, thread_id: str) -> Thread | None:
        doc = await self._threads.find_one({"_id": thread_id})
        return Thread.from_doc(doc) if doc else None

    async def for_account(self, account_id: str, limit: int = 200) -> list[Thread]:
        cursor = (
            self._threads.find({"participants": account_id}).sort("updated_at", -1).limit(limit)
        )
        return [Thread.from_doc(doc) async for doc in cursor]

    async def transition(
        self, thread_id: str, allowed_from: list[ThreadState], to: ThreadState, now: datetime
    ) -> Thread | None:
        doc = await self._threads.find_one_and_update(
            {"_id": thread_id, "state": {"$in": [str(s) for s in allowed_from]}},
            {"$set": {"state": str(to), "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return Thread.from_doc(doc) if doc else None

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
        return Thread.from_doc(doc) if doc else None

    async def live_between(self, patient_id: str, provider_id: str) -> Thread | None:
        doc = await self._threads.find_one(
            {
                "patient_id": patient_id,
                "provider_id": provider_id,
                "state": {"$in": [str(ThreadState.REQUESTED), str(ThreadState.OPEN)]},
            }
        )
        return Thread.from_doc(doc) if doc else None

    # -- cursors and read marks -----------------------------------------------------------

    async def device_cursors(self, device_key: str, thread_ids: list[str]) -> dict[str, int]:
        cursor = self._cursors.find({"device": device_key, "thread": {"$in": thread_ids}})
        return {doc["thread"]: doc["seq"] async for doc in cursor}

    async def advance_cursors(self, device_key: str, seqs: dict[str, int]) -> None:
        """Cumulative and monotonic: a late, smaller ack never moves a cursor back."""
        if not seqs:
            return
        await self._cursors.bulk_write(
            [
                UpdateOne(
                    {"device": device_key, "thread": thread_id},
                    {"$max": {"seq": seq}},
                    upsert=True,
                )
                for thread_id, seq in seqs.items()
            ],
            ordered=False,
        )

    async def any_device_has(self, account_id: str, thread_id: str, seq: int) -> bool:
        # Device cursor keys start with "<account id>:" (see handlers.threads).
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
