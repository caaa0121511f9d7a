"""Panel questions: the queue, the GPs' seats, and the ratings.

Concurrency is the database's job. A claim is one transaction of two conditional
updates: take a seat (the GP's count of claimed questions, only if under capacity)
and move the oldest queued question to ``claimed``; either both happen or neither,
so with twenty GPs claiming at once every question goes to exactly one and nobody
holds more than their capacity. Every move that ends a claim (release, hand-over,
park, answer, convert, expired lease, removal from the panel) gives the seat back in
the same transaction as the question's own conditional update.

A question that goes back keeps its ``queued_at``: it returns to its original place.
Every change of state goes through ``claim`` or ``move``, which name the event and
who acted and, once the transaction committed, tell ``on_transition`` (the audit log).
The encrypted messages of a question are in ``messages`` under the question's id
(storage/messages.py); this store knows only their metadata's owner, the question.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from bson import Binary
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_server.model.machines import OnTransition, Transition
from chat_server.model.queue import HELD_STATES, Outcome, PaidOffer, QueueItem, Throughput
from chat_server.model.threads import PanelEvent, PanelState, ThreadKind

T = TypeVar("T")


class QuestionExists(Exception):
    pass


class NoSeat(Exception):
    """The GP is at capacity."""


class NothingQueued(Exception):
    """No question (or not the chosen one) is waiting."""


class RatingExists(Exception):
    pass


@dataclass(frozen=True, slots=True)
class PanelRating:
    question_id: str
    patient_id: str
    score: int
    at: datetime
    comment: bytes | None  # sealed like a message of the question


@dataclass(frozen=True, slots=True)
class QueueStats:
    queued: int
    oldest_queued_at: datetime | None
    recent: Throughput


def item_from_doc(doc: dict[str, Any]) -> QueueItem:
    offer = doc.get("offer")
    return QueueItem(
        thread_id=doc["_id"],
        panel_id=doc["panel"],
        patient_id=doc["patient"],
        state=PanelState(doc["state"]),
        queued_at=doc["queued_at"],
        claimed_by=doc.get("claimed_by"),
        lease_until=doc.get("lease_until"),
        offered_to=doc.get("offered_to"),
        offered_until=doc.get("offered_until"),
        overdue=doc.get("overdue", False),
        answered_by=doc.get("answered_by"),
        closes_at=doc.get("closes_at"),
        outcome=Outcome(doc["outcome"]) if doc.get("outcome") else None,
        offer=(
            PaidOffer(offer["price_cents"], offer["currency"], offer.get("panel_id"))
            if offer
            else None
        ),
        claims=doc.get("claims", 0),
        paid=doc.get("day") == "paid",
    )


_RETURN_TO_QUEUE: dict[str, Any] = {
    "$set": {"state": str(PanelState.QUEUED)},
    "$unset": {"claimed_by": "", "lease_until": ""},
}


def _kind(doc: dict[str, Any]) -> str:
    # A paid chat's question is queued with the day "paid" (handlers/paid_queue.py).
    return str(ThreadKind.PAID if doc.get("day") == "paid" else ThreadKind.PANEL)


class QueueStore:
    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], *, on_transition: OnTransition | None = None
    ) -> None:
        self._on_transition = on_transition
        self._db = db
        self._questions = db["panel_questions"]
        self._seats = db["panel_seats"]
        self._ratings = db["panel_ratings"]

    async def _in_transaction(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        async with self._db.client.start_session() as session:
            result: T = await session.with_transaction(work)
            return result

    # -- asking -----------------------------------------------------------------------------

    async def add(self, item: QueueItem, *, day: str, now: datetime) -> None:
        try:
            await self._questions.insert_one(
                {
                    "_id": item.thread_id,
                    "panel": item.panel_id,
                    "patient": item.patient_id,
                    "state": str(item.state),
                    "queued_at": item.queued_at,
                    "created_at": now,
                    "day": day,
                    "claims": 0,
                    "waits": 0,
                    "overdue": False,
                }
            )
        except DuplicateKeyError:
            raise QuestionExists() from None

    async def get(self, question_id: str) -> QueueItem | None:
        doc = await self._questions.find_one({"_id": question_id})
        return item_from_doc(doc) if doc else None

    async def open_of(self, patient_id: str, panel_id: str) -> QueueItem | None:
        doc = await self._questions.find_one(
            {
                "patient": patient_id,
                "panel": panel_id,
                "state": {"$in": [str(s) for s in (PanelState.QUEUED, *HELD_STATES)]},
            }
        )
        return item_from_doc(doc) if doc else None

    async def latest_of(self, patient_id: str, panel_id: str) -> QueueItem | None:
        doc = await self._questions.find_one(
            {"patient": patient_id, "panel": panel_id}, sort=[("created_at", -1)]
        )
        return item_from_doc(doc) if doc else None

    async def panels_asked(self, patient_id: str) -> list[str]:
        return [str(p) for p in await self._questions.distinct("panel", {"patient": patient_id})]

    async def asked_on(self, patient_id: str, panel_id: str, day: str) -> int:
        return await self._questions.count_documents(
            {"patient": patient_id, "panel": panel_id, "day": day}
        )

    async def queued_patients(self, panel_id: str) -> list[str]:
        patients = await self._questions.distinct(
            "patient", {"panel": panel_id, "state": str(PanelState.QUEUED)}
        )
        return [str(p) for p in patients]

    # -- claiming ---------------------------------------------------------------------------

    async def claim(
        self,
        panel_id: str,
        gp_id: str,
        *,
        capacity: int,
        now: datetime,
        lease: timedelta,
        question_id: str | None = None,
    ) -> QueueItem:
        """Raises NoSeat or NothingQueued; nothing changes then."""
        await self._seats.update_one(
            {"_id": f"{panel_id}/{gp_id}"}, {"$setOnInsert": {"open": 0}}, upsert=True
        )
        queued: dict[str, Any] = {"panel": panel_id, "state": str(PanelState.QUEUED)}
        filters: list[dict[str, Any]]
        if question_id is not None:
            filters = [{**queued, "_id": question_id}]
        else:
            # Handed to me first; then the oldest not offered to someone else (or whose
            # offer ran out).
            filters = [
                {**queued, "offered_to": gp_id},
                {
                    **queued,
                    "$or": [{"offered_to": None}, {"offered_until": {"$lte": now}}],
                },
            ]
        claim = {
            "$set": {
                "state": str(PanelState.CLAIMED),
                "claimed_by": gp_id,
                "lease_until": now + lease,
                "claimed_at": now,
            },
            "$inc": {"claims": 1},
            "$unset": {"offered_to": "", "offered_until": ""},
        }

        async def work(session: AsyncClientSession) -> tuple[str, QueueItem]:
            seat = await self._seats.find_one_and_update(
                {"_id": f"{panel_id}/{gp_id}", "open": {"$lt": capacity}},
                {"$inc": {"open": 1}},
                session=session,
            )
            if seat is None:
                raise NoSeat()
            for query in filters:
                doc = await self._questions.find_one_and_update(
                    query,
                    claim,
                    sort=[("queued_at", ASCENDING), ("_id", ASCENDING)],
                    return_document=ReturnDocument.AFTER,
                    session=session,
                )
                if doc is not None:
                    return _kind(doc), item_from_doc(doc)
            raise NothingQueued()

        kind, item = await self._in_transaction(work)
        await self._moved(
            kind, item.thread_id, PanelEvent.CLAIM, str(PanelState.QUEUED), item.state, gp_id
        )
        return item

    async def renew(self, question_id: str, gp_id: str, now: datetime, until: datetime) -> bool:
        result = await self._questions.update_one(
            {
                "_id": question_id,
                "state": str(PanelState.CLAIMED),
                "claimed_by": gp_id,
                "lease_until": {"$gt": now},
            },
            {"$set": {"lease_until": until}},
        )
        return result.matched_count == 1

    async def move(
        self,
        question_id: str,
        query: dict[str, Any],
        update: dict[str, Any],
        *,
        event: StrEnum,
        actor: str | None,
        seat_capacity: int | None = None,
    ) -> QueueItem | None:
        """One conditional update of a question, and its GP's seat in the same
        transaction: given back if the question leaves ``claimed``, taken (only under
        ``seat_capacity``, else NoSeat) if it enters it. None if ``query`` no longer
        matches (someone else moved it first). ``event`` and ``actor`` (None: time
        moved it) are what the audit log records of a change of state."""

        async def work(session: AsyncClientSession) -> tuple[dict[str, Any], QueueItem] | None:
            before = await self._questions.find_one_and_update(
                {"_id": question_id, **query}, update, session=session
            )
            if before is None:
                return None
            after_doc = await self._questions.find_one({"_id": question_id}, session=session)
            assert after_doc is not None
            after = item_from_doc(after_doc)
            was = before["state"] == str(PanelState.CLAIMED)
            now_claimed = after.state is PanelState.CLAIMED
            seat = f"{before['panel']}/{before.get('claimed_by') or after.claimed_by}"
            if was and not now_claimed:
                await self._seats.update_one({"_id": seat}, {"$inc": {"open": -1}}, session=session)
            elif now_claimed and not was:
                taken = await self._seats.find_one_and_update(
                    {"_id": seat, "open": {"$lt": seat_capacity or 0}},
                    {"$inc": {"open": 1}},
                    upsert=False,
                    session=session,
                )
                if taken is None:
                    raise NoSeat()
            return before, after

        moved = await self._in_transaction(work)
        if moved is None:
            return None
        before, after = moved
        await self._moved(_kind(before), question_id, event, before["state"], after.state, actor)
        return after

    async def _moved(
        self,
        kind: str,
        question_id: str,
        event: StrEnum,
        was: str,
        now: PanelState,
        actor: str | None,
    ) -> None:
        if self._on_transition is not None and was != str(now):
            await self._on_transition(
                Transition(kind, question_id, str(event), was, str(now), actor)
            )

    async def expire_lease(self, question_id: str, claims: int, now: datetime) -> QueueItem | None:
        return await self.move(
            question_id,
            {"state": str(PanelState.CLAIMED), "claims": claims, "lease_until": {"$lte": now}},
            _RETURN_TO_QUEUE,
            event=PanelEvent.LEASE_EXPIRED,
            actor=None,
        )

    async def release_all(
        self, panel_id: str, gp_id: str, *, actor: str | None = None
    ) -> list[str]:
        """A GP removed from the panel (by ``actor``): everything they hold goes back to
        its place, nothing is offered to them any more; returns the questions moved."""
        held = [
            doc["_id"]
            async for doc in self._questions.find(
                {
                    "panel": panel_id,
                    "claimed_by": gp_id,
                    "state": {"$in": [str(s) for s in HELD_STATES]},
                },
                projection={"_id": 1},
            )
        ]
        for question_id in held:
            await self.move(
                question_id,
                {"claimed_by": gp_id, "state": {"$in": [str(s) for s in HELD_STATES]}},
                _RETURN_TO_QUEUE,
                event=PanelEvent.RELEASE,
                actor=actor,
            )
        await self._questions.update_many(
            {"panel": panel_id, "offered_to": gp_id},
            {"$unset": {"offered_to": "", "offered_until": ""}},
        )
        return held

    async def set_fields(
        self, question_id: str, query: dict[str, Any], fields: dict[str, Any]
    ) -> QueueItem | None:
        doc = await self._questions.find_one_and_update(
            {"_id": question_id, **query},
            {"$set": fields},
            return_document=ReturnDocument.AFTER,
        )
        return item_from_doc(doc) if doc else None

    async def bump_waits(self, question_id: str) -> int:
        doc = await self._questions.find_one_and_update(
            {"_id": question_id, "state": str(PanelState.QUEUED)},
            {"$set": {"overdue": False}, "$inc": {"waits": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["waits"]) if doc else -1

    # -- reading ----------------------------------------------------------------------------

    async def position(self, item: QueueItem) -> int:
        """1 for the next question to be claimed: the queued ones before it, plus it."""
        ahead = await self._questions.count_documents(
            {
                "panel": item.panel_id,
                "state": str(PanelState.QUEUED),
                "$or": [
                    {"queued_at": {"$lt": item.queued_at}},
                    {"queued_at": item.queued_at, "_id": {"$lt": item.thread_id}},
                ],
            }
        )
        return ahead + 1

    async def queue(self, panel_id: str, limit: int = 100) -> list[QueueItem]:
        cursor = (
            self._questions.find({"panel": panel_id, "state": str(PanelState.QUEUED)})
            .sort([("queued_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [item_from_doc(doc) async for doc in cursor]

    async def held_by(self, panel_id: str, gp_id: str) -> list[QueueItem]:
        cursor = self._questions.find(
            {
                "panel": panel_id,
                "claimed_by": gp_id,
                "state": {"$in": [str(s) for s in HELD_STATES]},
            }
        ).sort("queued_at", ASCENDING)
        return [item_from_doc(doc) async for doc in cursor]

    async def stats(self, panel_id: str, now: datetime, window: timedelta) -> QueueStats:
        queued = {"panel": panel_id, "state": str(PanelState.QUEUED)}
        count = await self._questions.count_documents(queued)
        oldest = await self._questions.find_one(queued, sort=[("queued_at", ASCENDING)])
        recent = {"panel": panel_id, "answered_at": {"$gt": now - window, "$lte": now}}
        answered = await self._questions.count_documents(recent)
        gps = await self._questions.distinct("answered_by", recent)
        return QueueStats(
            count,
            oldest["queued_at"] if oldest else None,
            Throughput(answered, len(gps), window),
        )

    # -- ratings ----------------------------------------------------------------------------

    async def rate(
        self,
        question_id: str,
        panel_id: str,
        score: int,
        comment: bytes | None,
        now: datetime,
    ) -> None:
        doc: dict[str, Any] = {"_id": question_id, "panel": panel_id, "score": score, "at": now}
        if comment is not None:
            doc["comment"] = Binary(comment)
        try:
            await self._ratings.insert_one(doc)
        except DuplicateKeyError:
            raise RatingExists() from None

    async def ratings(self, panel_id: str, limit: int) -> list[PanelRating]:
        """The panel's newest ratings first, with the patient of each question."""
        docs = await self._ratings.find({"panel": panel_id}).sort("at", -1).limit(limit).to_list()
        patients = {
            doc["_id"]: doc["patient"]
            async for doc in self._questions.find(
                {"_id": {"$in": [d["_id"] for d in docs]}}, projection={"patient": 1}
            )
        }
        return [
            PanelRating(
                d["_id"],
                patients.get(d["_id"], ""),
                int(d["score"]),
                d["at"],
                bytes(d["comment"]) if d.get("comment") is not None else None,
            )
            for d in docs
        ]

    async def rating_summary(self, panel_id: str) -> tuple[float | None, int]:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"panel": panel_id}},
            {"$group": {"_id": None, "average": {"$avg": "$score"}, "count": {"$sum": 1}}},
        ]
        async for row in await self._ratings.aggregate(pipeline):
            return float(row["average"]), int(row["count"])
        return None, 0
