"""Patients' consents (collection ``consents``): an append-only history, one document
per grant or revocation, with its time and the text version it answered. The latest
record per (account, purpose, scope) is the consent's current state."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from moderation.consents import ConsentAction, ConsentRecord, Purpose

_LATEST_FIRST = [("at", DESCENDING), ("_id", DESCENDING)]


def _record(doc: dict[str, Any]) -> ConsentRecord:
    return ConsentRecord(
        account=doc["account"],
        purpose=Purpose(doc["purpose"]),
        scope=doc["scope"],
        action=ConsentAction(doc["action"]),
        version=doc["version"],
        at=doc["at"],
    )


def consent_document(record: ConsentRecord) -> dict[str, Any]:
    """How a record is stored (also what the opt-out migration writes)."""
    return {
        "account": record.account,
        "purpose": str(record.purpose),
        "scope": record.scope,
        "action": str(record.action),
        "version": record.version,
        "at": record.at,
    }


class ConsentStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._consents = db["consents"]

    async def add(self, record: ConsentRecord) -> None:
        await self._consents.insert_one(consent_document(record))

    async def add_many(self, records: list[ConsentRecord]) -> None:
        """Many records at once (seeding large audiences, e.g. a benchmark's)."""
        if records:
            await self._consents.insert_many([consent_document(r) for r in records])

    async def latest(self, account: str, purpose: Purpose, scope: str = "") -> ConsentRecord | None:
        doc = await self._consents.find_one(
            {"account": account, "purpose": str(purpose), "scope": scope}, sort=_LATEST_FIRST
        )
        return _record(doc) if doc else None

    async def history(self, account: str) -> list[ConsentRecord]:
        cursor = self._consents.find({"account": account}).sort([("at", 1), ("_id", 1)])
        return [_record(doc) async for doc in cursor]

    async def latest_of(
        self, accounts: list[str], purpose: Purpose, scope: str = ""
    ) -> dict[str, ConsentRecord]:
        """Each account's latest record for ``purpose`` (accounts without one left out)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"account": {"$in": accounts}, "purpose": str(purpose), "scope": scope}},
            {"$sort": {"at": -1, "_id": -1}},
            {"$group": {"_id": "$account", "doc": {"$first": "$$ROOT"}}},
        ]
        found: dict[str, ConsentRecord] = {}
        async for row in await self._consents.aggregate(pipeline):
            found[row["_id"]] = _record(row["doc"])
        return found
