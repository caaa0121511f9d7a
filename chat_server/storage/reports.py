"""Abuse reports waiting for moderators (collection ``reports``).

A report holds what its reporter chose to reveal (the plaintext and the franking
key) so a moderator can read it: the one place where message text reaches the
server, by the reporter's own act, and only for the message reported. One report per
reporter and message (a unique index): reporting again changes nothing. A moderator
closes a queued report once (resolved or dismissed, with a reason code): one
conditional update, so two moderators cannot both decide it.

A report of a practice mailing (``campaign_id`` set) names no thread: its document
keys on (reporter, campaign id, seq 0) in the same unique index, which no message
report can share (message positions start at 1), and has ``campaign`` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from moderation.reports import Category, DecisionReason, ReportStatus, Verification

LISTED: Final = 50


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    reporter: str
    thread_id: str
    seq: int
    # From the server's record of the message; proven only when ``verification`` is
    # VERIFIED.
    sender_account: str
    sender_device: str
    category: Category
    verification: Verification
    status: ReportStatus
    at: datetime
    message_at: datetime
    body: bytes
    # A mailing's report: the campaign (then ``thread_id`` is "" and ``seq`` 0).
    campaign_id: str | None = None

    def to_document(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "reporter": self.reporter,
            "thread": self.campaign_id if self.campaign_id is not None else self.thread_id,
            "seq": self.seq,
            "campaign": self.campaign_id,
            "sender_account": self.sender_account,
            "sender_device": self.sender_device,
            "category": str(self.category),
            "verification": str(self.verification),
            "status": str(self.status),
            "at": self.at,
            "message_at": self.message_at,
            "body": self.body,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Report:
        campaign = doc.get("campaign")
        return cls(
            id=doc["_id"],
            reporter=doc["reporter"],
            thread_id="" if campaign is not None else doc["thread"],
            seq=doc["seq"],
            sender_account=doc["sender_account"],
            sender_device=doc["sender_device"],
            category=Category(doc["category"]),
            verification=Verification(doc["verification"]),
            status=ReportStatus(doc["status"]),
            at=doc["at"],
            message_at=doc["message_at"],
            body=bytes(doc["body"]),
            campaign_id=campaign,
        )


class ReportExists(Exception):
    pass


class ReportStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._reports = db["reports"]

    async def add(self, report: Report) -> None:
        try:
            await self._reports.insert_one(report.to_document())
        except DuplicateKeyError:
            raise ReportExists() from None

    async def queued(self) -> list[Report]:
        cursor = (
            self._reports.find({"status": str(ReportStatus.QUEUED)})
            .sort("at", DESCENDING)
            .limit(LISTED)
        )
        return [Report.from_document(doc) async for doc in cursor]

    async def get(self, report_id: str) -> Report | None:
        doc = await self._reports.find_one({"_id": report_id})
        return None if doc is None else Report.from_document(doc)

    async def decide(
        self,
        report_id: str,
        status: ReportStatus,
        *,
        moderator: str,
        reason: DecisionReason,
        now: datetime,
    ) -> bool:
        """Closes a queued report; False when it is missing or already decided."""
        result = await self._reports.update_one(
            {"_id": report_id, "status": str(ReportStatus.QUEUED)},
            {
                "$set": {
                    "status": str(status),
                    "decided_by": moderator,
                    "decision_reason": str(reason),
                    "decided_at": now,
                }
            },
        )
        return result.modified_count == 1

    async def against(self, account_id: str) -> list[Report]:
        """The newest reports naming ``account_id`` as the sender, in any state."""
        cursor = (
            self._reports.find({"sender_account": account_id}).sort("at", DESCENDING).limit(LISTED)
        )
        return [Report.from_document(doc) async for doc in cursor]
