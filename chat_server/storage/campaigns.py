"""Campaigns, their recipients and their deliveries (three collections, one store).

::

    campaigns            {_id, practice_id, created_by, state, body (ciphertext),
                          stamp (the server's franking stamp of the body),
                          send_at, pause_reason, run, cursor, failed_batches,
                          created_at, updated_at}
    campaign_recipients  {_id: "<campaign>:<patient>", campaign, patient, slips[]}
                          chosen by the practice's client; changeable only in draft
    campaign_deliveries  {_id: "<campaign>:<patient>", campaign, practice, patient,
                          state, at, read_at?, mail, mail_attempts}

A delivery's ``_id`` is the (campaign, patient) pair, so however often a fan-out is
retried, resumed or taken over by another process, each patient has exactly one
delivery: a second insert is a duplicate key and changes nothing. Progress is counted
from the deliveries themselves, never from counters a crash could leave behind.

Recipients are added in a transaction that first bumps the campaign document while
it is a draft; scheduling writes the same document, so an add racing a schedule
either lands before it or fails (write conflict, retried, then refused): the set
frozen at the start of sending is exactly what was there when it was scheduled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING, ReplaceOne, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chat_server.model.campaigns import (
    CAMPAIGN,
    Campaign,
    CampaignEvent,
    CampaignState,
    DeliveryState,
    PauseReason,
    Progress,
)

# Mail states of a delivery: claimed ("sending") before the relay is called, so a
# retried batch never mails twice; a process killed mid-send leaves "sending".
MAIL_NONE = "none"  # not delivered (opted out, no care link): never mailed
MAIL_PENDING = "pending"
MAIL_SENDING = "sending"
MAIL_SENT = "sent"
MAIL_FAILED = "failed"
MAIL_NO_ADDRESS = "no_address"


class CampaignExists(Exception):
    """The campaign id is taken."""


class CampaignNotDraft(Exception):
    """Recipients change only while the campaign is a draft."""


@dataclass(frozen=True, slots=True)
class Recipient:
    patient: str
    slips: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Announcement:
    """One delivered campaign as its patient fetches it: the body and their slips."""

    campaign_id: str
    practice_id: str
    body: bytes
    slips: tuple[bytes, ...]
    delivered_at: datetime
    read: bool


def _campaign(doc: dict[str, Any]) -> Campaign:
    reason = doc.get("pause_reason")
    return Campaign(
        id=doc["_id"],
        practice_id=doc["practice_id"],
        created_by=doc["created_by"],
        state=CampaignState(doc["state"]),
        created_at=doc["created_at"],
        body=bytes(doc["body"]),
        send_at=doc.get("send_at"),
        pause_reason=PauseReason(reason) if reason else None,
        run=doc.get("run", 0),
        stamp=bytes(doc["stamp"]) if doc.get("stamp") is not None else None,
        note=bytes(doc["note"]) if doc.get("note") is not None else None,
    )


def delivery_id(campaign_id: str, patient: str) -> str:
    return f"{campaign_id}:{patient}"


class CampaignStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self._campaigns = db["campaigns"]
        self._recipients = db["campaign_recipients"]
        self._deliveries = db["campaign_deliveries"]

    async def create(self, campaign: Campaign) -> None:
        try:
            await self._insert(campaign)
        except DuplicateKeyError:
            raise CampaignExists() from None

    async def _insert(self, campaign: Campaign) -> None:
        await self._campaigns.insert_one(
            {
                "_id": campaign.id,
                "practice_id": campaign.practice_id,
                "created_by": campaign.created_by,
                "state": str(campaign.state),
                "body": Binary(campaign.body),
                "stamp": Binary(campaign.stamp) if campaign.stamp is not None else None,
                "note": Binary(campaign.note) if campaign.note is not None else None,
                "send_at": None,
                "pause_reason": None,
                "run": 0,
                "cursor": None,
                "created_at": campaign.created_at,
                "updated_at": campaign.created_at,
            }
        )

    async def get(self, campaign_id: str) -> Campaign | None:
        doc = await self._campaigns.find_one({"_id": campaign_id})
        return _campaign(doc) if doc else None

    async def for_practice(self, practice_id: str, limit: int = 200) -> list[Campaign]:
        cursor = self._campaigns.find({"practice_id": practice_id}, {"cursor": 0})
        cursor = cursor.sort("created_at", -1).limit(limit)
        return [_campaign(doc) async for doc in cursor]

    async def transition(
        self,
        campaign_id: str,
        event: CampaignEvent,
        target: CampaignState,
        now: datetime,
        *,
        fields: dict[str, Any] | None = None,
        new_run: bool = False,
        from_states: Sequence[CampaignState] | None = None,
    ) -> Campaign | None:
        """Applies ``event`` atomically; None if the stored state no longer allows it."""
        sources = from_states or CAMPAIGN.sources(event, target)
        update: dict[str, Any] = {
            "$set": {"state": str(target), "updated_at": now, **(fields or {})}
        }
        if new_run:
            update["$inc"] = {"run": 1}
        doc = await self._campaigns.find_one_and_update(
            {"_id": campaign_id, "state": {"$in": [str(s) for s in sources]}},
            update,
            return_document=ReturnDocument.AFTER,
        )
        return _campaign(doc) if doc else None

    async def add_recipients(
        self, campaign_id: str, recipients: Sequence[Recipient], now: datetime
    ) -> None:
        """Adds (or replaces the slips of) recipients of a draft, atomically with its state."""

        async def write(session: AsyncClientSession) -> None:
            held = await self._campaigns.find_one_and_update(
                {"_id": campaign_id, "state": str(CampaignState.DRAFT)},
                {"$inc": {"recipients_revision": 1}, "$set": {"updated_at": now}},
                session=session,
            )
            if held is None:
                raise CampaignNotDraft()
            if not recipients:
                return
            await self._recipients.bulk_write(
                [
                    ReplaceOne(
                        {"_id": delivery_id(campaign_id, r.patient)},
                        {
                            "campaign": campaign_id,
                            "patient": r.patient,
                            "slips": [Binary(s) for s in r.slips],
                        },
                        upsert=True,
                    )
                    for r in recipients
                ],
                ordered=False,
                session=session,
            )

        async with self._db.client.start_session() as session:
            await session.with_transaction(write)

    async def remove_recipients(self, campaign_id: str, patients: Sequence[str]) -> None:
        await self._recipients.delete_many(
            {"_id": {"$in": [delivery_id(campaign_id, p) for p in patients]}}
        )

    async def recipients_after(
        self, campaign_id: str, after: str | None, limit: int
    ) -> list[Recipient]:
        """The next ``limit`` recipients in ``_id`` order (a stable cursor: the set is
        frozen while the campaign sends)."""
        query: dict[str, Any] = {"campaign": campaign_id}
        if after is not None:
            query["_id"] = {"$gt": delivery_id(campaign_id, after)}
        cursor = self._recipients.find(query, {"slips": 0}).sort("_id", ASCENDING).limit(limit)
        return [Recipient(doc["patient"], ()) async for doc in cursor]

    async def recipient_count(self, campaign_id: str) -> int:
        return await self._recipients.count_documents({"campaign": campaign_id})

    async def save_cursor(self, campaign_id: str, run: int, cursor: str) -> bool:
        """Stores how far the fan-out got; False if a newer run (or no run) owns it."""
        result = await self._campaigns.update_one(
            {"_id": campaign_id, "run": run, "state": str(CampaignState.SENDING)},
            # A batch that went through ends a streak of failed ones.
            {"$set": {"cursor": cursor, "failed_batches": 0}},
        )
        return result.matched_count == 1

    async def count_failed_batch(self, campaign_id: str, run: int) -> int | None:
        """Counts one more failed batch in a row of this run; the count, or None if a
        newer run (or no run) owns the campaign."""
        doc = await self._campaigns.find_one_and_update(
            {"_id": campaign_id, "run": run, "state": str(CampaignState.SENDING)},
            {"$inc": {"failed_batches": 1}},
            projection={"failed_batches": 1},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["failed_batches"]) if doc else None

    async def cursor(self, campaign_id: str) -> str | None:
        doc = await self._campaigns.find_one({"_id": campaign_id}, {"cursor": 1})
        return doc.get("cursor") if doc else None

    async def record_deliveries(
        self,
        campaign: Campaign,
        outcomes: Iterable[tuple[str, DeliveryState]],
        now: datetime,
    ) -> set[str]:
        """Stores one delivery per patient; the patients whose record is new now.

        A patient who already has one (a batch retried after a crash) keeps it.
        """
        docs = [
            {
                "_id": delivery_id(campaign.id, patient),
                "campaign": campaign.id,
                "practice": campaign.practice_id,
                "patient": patient,
                "state": str(state),
                "at": now,
                "mail": MAIL_PENDING if state is DeliveryState.DELIVERED else MAIL_NONE,
                "mail_attempts": 0,
            }
            for patient, state in outcomes
        ]
        if not docs:
            return set()
        duplicates: set[int] = set()
        try:
            await self._deliveries.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != 11000:
                    raise
                duplicates.add(error["index"])
        return {str(doc["patient"]) for i, doc in enumerate(docs) if i not in duplicates}

    async def claim_mail(self, campaign_id: str, patients: Sequence[str], owner: str) -> list[str]:
        """Marks pending mail of these patients as being sent by ``owner``; whom it got."""
        ids = [delivery_id(campaign_id, p) for p in patients]
        await self._deliveries.update_many(
            {"_id": {"$in": ids}, "mail": MAIL_PENDING},
            {"$set": {"mail": MAIL_SENDING, "mail_owner": owner}},
        )
        cursor = self._deliveries.find(
            {"_id": {"$in": ids}, "mail": MAIL_SENDING, "mail_owner": owner}, {"patient": 1}
        )
        return [doc["patient"] async for doc in cursor]

    async def mail_outcome(
        self, campaign_id: str, patient: str, outcome: str, attempts: int
    ) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id(campaign_id, patient)},
            {"$set": {"mail": outcome, "mail_attempts": attempts}},
        )

    async def mail_outcome_many(
        self, campaign_id: str, patients: Sequence[str], outcome: str
    ) -> None:
        await self._deliveries.update_many(
            {"_id": {"$in": [delivery_id(campaign_id, p) for p in patients]}},
            {"$set": {"mail": outcome}},
        )

    async def progress(self, campaign_id: str) -> Progress:
        counts: dict[str, int] = {}
        pipeline: list[dict[str, Any]] = [
            {"$match": {"campaign": campaign_id}},
            {
                "$group": {
                    "_id": None,
                    **{
                        state: {"$sum": {"$cond": [{"$eq": ["$state", state]}, 1, 0]}}
                        for state in map(str, DeliveryState)
                    },
                    "read": {"$sum": {"$cond": [{"$ifNull": ["$read_at", False]}, 1, 0]}},
                    "mail_sent": {"$sum": {"$cond": [{"$eq": ["$mail", MAIL_SENT]}, 1, 0]}},
                    "mail_failed": {"$sum": {"$cond": [{"$eq": ["$mail", MAIL_FAILED]}, 1, 0]}},
                    "mail_attempts": {"$sum": {"$max": [0, {"$subtract": ["$mail_attempts", 1]}]}},
                }
            },
        ]
        async for row in await self._deliveries.aggregate(pipeline):
            counts = {k: int(v) for k, v in row.items() if k != "_id"}
        return Progress(
            recipients=await self.recipient_count(campaign_id),
            delivered=counts.get(str(DeliveryState.DELIVERED), 0),
            read=counts.get("read", 0),
            opted_out=counts.get(str(DeliveryState.OPTED_OUT), 0),
            no_care_link=counts.get(str(DeliveryState.NO_CARE_LINK), 0),
            mail_sent=counts.get("mail_sent", 0),
            mail_failed=counts.get("mail_failed", 0),
            mail_retries=counts.get("mail_attempts", 0),
        )

    async def announcements(self, patient: str, limit: int = 100) -> list[Announcement]:
        """What a patient received, newest first: the patient's announcements thread."""
        cursor = self._deliveries.find(
            {"patient": patient, "state": str(DeliveryState.DELIVERED)}
        ).sort("at", -1)
        deliveries = [doc async for doc in cursor.limit(limit)]
        campaign_ids = [d["campaign"] for d in deliveries]
        bodies = {
            doc["_id"]: bytes(doc["body"])
            async for doc in self._campaigns.find({"_id": {"$in": campaign_ids}}, {"body": 1})
        }
        slips = {
            doc["campaign"]: tuple(bytes(s) for s in doc["slips"])
            async for doc in self._recipients.find({"_id": {"$in": [d["_id"] for d in deliveries]}})
        }
        return [
            Announcement(
                campaign_id=d["campaign"],
                practice_id=d["practice"],
                body=bodies.get(d["campaign"], b""),
                slips=slips.get(d["campaign"], ()),
                delivered_at=d["at"],
                read=d.get("read_at") is not None,
            )
            for d in deliveries
        ]

    async def delivered_to(self, campaign_id: str, patient: str) -> bool:
        """Whether the campaign was delivered to the patient (only they may report it)."""
        return await self.delivered_from(campaign_id, patient) is not None

    async def delivered_from(self, campaign_id: str, patient: str) -> str | None:
        """The practice whose campaign was delivered to the patient; None if it was not."""
        found = await self._deliveries.find_one(
            {"_id": delivery_id(campaign_id, patient), "state": str(DeliveryState.DELIVERED)},
            {"practice": 1},
        )
        return str(found["practice"]) if found else None

    async def mark_read(self, campaign_id: str, patient: str, now: datetime) -> bool:
        """True if the patient has this campaign delivered (read now or before)."""
        result = await self._deliveries.update_one(
            {
                "_id": delivery_id(campaign_id, patient),
                "state": str(DeliveryState.DELIVERED),
            },
            [{"$set": {"read_at": {"$ifNull": ["$read_at", now]}}}],
        )
        return result.matched_count == 1
