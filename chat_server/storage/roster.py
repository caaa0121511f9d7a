"""A practice's roster: one document per patient row it imported.

``{_id, practice, email, language, labels (ciphertext sealed to the practice's staff
group epoch), group, epoch, line, created_at, updated_at}`` (``updated_at`` once a
later import replaced its language and labels). The labels (age band,
condition, vaccination status) are opaque here: the practice's clients decrypt them
to choose a campaign's audience. The e-mail address is what the invitation goes to
and how the row finds its account once the invitation is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_server.tokens import new_id


@dataclass(frozen=True, slots=True)
class RosterRow:
    id: str
    practice: str
    email: str
    language: str
    labels: bytes
    group: str
    epoch: int
    line: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RosterFields:
    """What an import gives for one row: labels sealed to the staff ``group``'s
    ``epoch``, and the CSV ``line`` they came from."""

    email: str
    language: str
    labels: bytes
    group: str
    epoch: int
    line: int

    def document(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "language": self.language,
            "labels": Binary(self.labels),
            "group": self.group,
            "epoch": self.epoch,
            "line": self.line,
        }


def _row(doc: dict[str, Any]) -> RosterRow:
    return RosterRow(
        id=doc["_id"],
        practice=doc["practice"],
        email=doc["email"],
        language=doc["language"],
        labels=bytes(doc["labels"]),
        group=doc["group"],
        epoch=doc["epoch"],
        line=doc["line"],
        created_at=doc["created_at"],
    )


class RosterStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._roster = db["roster"]

    async def add(self, practice: str, fields: RosterFields, now: datetime) -> RosterRow | None:
        """The new row, or None if the practice already has a row for this address."""
        doc = {"_id": new_id(), "practice": practice, **fields.document(), "created_at": now}
        try:
            await self._roster.insert_one(doc)
        except DuplicateKeyError:
            return None
        return _row(doc)

    async def replace(self, practice: str, fields: RosterFields, now: datetime) -> RosterRow | None:
        """The practice's row for ``fields.email`` with a newer import's language and
        labels; None if it has no such row."""
        doc = await self._roster.find_one_and_update(
            {"practice": practice, "email": fields.email},
            {"$set": {**fields.document(), "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return _row(doc) if doc else None

    async def for_practice(self, practice: str, limit: int = 20_000) -> list[RosterRow]:
        cursor = self._roster.find({"practice": practice}).sort("created_at", ASCENDING)
        return [_row(doc) async for doc in cursor.limit(limit)]

    async def languages(self, practice: str, emails: Sequence[str]) -> dict[str, str]:
        """e-mail -> the language the roster gives for it."""
        cursor = self._roster.find(
            {"practice": practice, "email": {"$in": list(emails)}}, {"email": 1, "language": 1}
        )
        return {doc["email"]: doc["language"] async for doc in cursor}
