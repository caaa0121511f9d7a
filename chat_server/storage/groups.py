"""Groups and their epoch commits: the admin-signed membership history of each group.

A commit is stored as the exact bytes the admin signed (clients re-verify the whole
chain themselves), next to its digest and the member account ids the server needs
for access checks. The unique index on (group, epoch) is what makes "one commit per
epoch" hold under concurrency: of two admin devices racing for epoch N, one insert
wins and the other gets :class:`EpochTaken`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    admin_account: str
    created_at: datetime
    # "group", or "panel" for a GP panel's group (storage/panels.py).
    purpose: str = "group"

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Group:
        return cls(doc["_id"], doc["admin_account"], doc["created_at"], doc.get("purpose", "group"))


@dataclass(frozen=True, slots=True)
class StoredEpoch:
    group_id: str
    epoch: int
    commit: bytes  # the signed commit, verbatim
    digest: bytes  # what the next epoch names as previous_digest
    members: tuple[str, ...]  # distinct member account ids, in commit order
    created_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StoredEpoch:
        return cls(
            doc["group"],
            doc["epoch"],
            bytes(doc["commit"]),
            bytes(doc["digest"]),
            tuple(doc["members"]),
            doc["created_at"],
        )


class GroupExists(Exception):
    pass


class EpochTaken(Exception):
    pass


class GroupStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._groups = db["groups"]
        self._epochs = db["group_epochs"]

    async def create(self, group: Group) -> None:
        try:
            await self._groups.insert_one(
                {
                    "_id": group.id,
                    "admin_account": group.admin_account,
                    "created_at": group.created_at,
                    "purpose": group.purpose,
                }
            )
        except DuplicateKeyError:
            raise GroupExists() from None

    async def get(self, group_id: str) -> Group | None:
        doc = await self._groups.find_one({"_id": group_id})
        return Group.from_doc(doc) if doc else None

    async def add_epoch(self, epoch: StoredEpoch) -> None:
        try:
            await self._epochs.insert_one(
                {
                    "group": epoch.group_id,
                    "epoch": epoch.epoch,
                    "commit": Binary(epoch.commit),
                    "digest": Binary(epoch.digest),
                    "members": list(epoch.members),
                    "created_at": epoch.created_at,
                }
            )
        except DuplicateKeyError:
            raise EpochTaken() from None

    async def epoch(self, group_id: str, epoch: int) -> StoredEpoch | None:
        doc = await self._epochs.find_one({"group": group_id, "epoch": epoch})
        return StoredEpoch.from_doc(doc) if doc else None

    async def latest(self, group_id: str) -> StoredEpoch | None:
        doc = await self._epochs.find_one({"group": group_id}, sort=[("epoch", DESCENDING)])
        return StoredEpoch.from_doc(doc) if doc else None
