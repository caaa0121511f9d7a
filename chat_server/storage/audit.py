"""The append-only, hash-chained audit log in MongoDB.

Each entry commits to the previous one (``moderation.audit``). Appenders on several
processes are serialised by the unique index on ``seq``: whoever loses the race for a
seq re-reads the head and tries again, so the chain never forks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from moderation.audit import (
    AuditAction,
    AuditEntry,
    BrokenLink,
    InvalidAuditEntry,
    from_document,
    new_entry,
    to_document,
    verify_chain,
)

MAX_APPEND_ATTEMPTS = 1000


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """What the moderator console searches by; None matches anything.

    ``before`` is a seq: the page after one that ended with that entry (newest first).
    """

    actor: str | None = None
    subject: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None

    def filter(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.actor is not None:
            query["actor"] = self.actor
        if self.subject is not None:
            query["subject"] = self.subject
        if self.action is not None:
            query["action"] = str(self.action)
        at: dict[str, datetime] = {}
        if self.since is not None:
            at["$gte"] = self.since
        if self.until is not None:
            at["$lt"] = self.until
        if at:
            query["at"] = at
        if self.before is not None:
            query["seq"] = {"$lt": self.before}
        return query


class AuditStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._log = db["audit_log"]

    async def append(
        self,
        *,
        at: datetime,
        actor: str | None,
        action: AuditAction,
        subject: str | None,
        ip_hash: str | None,
        details: Mapping[str, str | int | bool],
    ) -> AuditEntry:
        for _ in range(MAX_APPEND_ATTEMPTS):
            head = await self._log.find_one(sort=[("seq", DESCENDING)])
            entry = new_entry(
                from_document(head) if head else None,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                ip_hash=ip_hash,
                details=details,
            )
            try:
                await self._log.insert_one(to_document(entry))
            except DuplicateKeyError:
                continue  # another process appended first; chain onto its entry
            return entry
        raise RuntimeError("audit log append kept losing the race")

    async def search(self, query: AuditQuery, limit: int) -> list[AuditEntry]:
        """Entries matching ``query``, newest first; a stored document that no longer
        parses is left out here (verification is what reports it)."""
        cursor = self._log.find(query.filter()).sort("seq", DESCENDING).limit(limit)
        found = []
        async for doc in cursor:
            try:
                found.append(from_document(doc))
            except (InvalidAuditEntry, TypeError):
                continue
        return found

    async def head(self) -> AuditEntry | None:
        """The newest entry (None for an empty log)."""
        doc = await self._log.find_one(sort=[("seq", DESCENDING)])
        return from_document(doc) if doc else None

    async def count(self) -> int:
        return await self._log.count_documents({})

    async def hash_at(self, seq: int) -> str | None:
        """The stored hash of entry ``seq`` as it is now (None if there is none)."""
        doc = await self._log.find_one({"seq": seq}, {"hash": 1})
        return str(doc["hash"]) if doc and "hash" in doc else None

    async def verify(self, page_size: int = 10_000) -> BrokenLink | None:
        """Walks the whole chain page by page, so memory stays bounded."""
        anchor: AuditEntry | None = None
        while True:
            query = {"seq": {"$gt": anchor.seq}} if anchor else {}
            # Raw documents: a tampered one that no longer parses is reported, not raised.
            page = [doc async for doc in self._log.find(query).sort("seq", 1).limit(page_size)]
            if not page:
                return None
            broken = verify_chain(page, anchor=anchor)
            if broken is not None:
                return broken
            anchor = from_document(page[-1])
