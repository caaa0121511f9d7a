"""Deleting a conversation and everything stored with it, in small batches.

Retention (``handlers/retention.py``) and erasure both end here, so a conversation is
deleted the same way whatever the reason::

    ThreadPurge.contents(id)    messages (their envelopes carry the wraps), the kept
                                keys of erased senders that only they still needed
                                (storage/retired_keys.py), GridFS attachments (chunks
                                before files), delivery cursors and read marks (the
                                receipts)
    ThreadPurge.care_thread(id) contents, then the ``threads`` document
    ThreadPurge.question(id)    contents, then the panel question, its rating and,
                                for a paid chat, the ``paid_chats`` document
    ThreadPurge.campaign(id)    deliveries and recipients, then the campaign (its body)

The owning document goes last: a purge interrupted half-way leaves it in place, so
whoever finds it next (the retention job resuming from its cursor, or a second run)
finishes the job; nothing is ever left that no document leads to. Every step is an
idempotent delete, safe to repeat and to run on two processes at once.

Batches are bounded (``batch_size`` documents per delete, walked in index order) and
separated by a pause, so a purge of a long conversation never holds MongoDB long
enough to be felt by the chats running next to it. The pause is at least
``pause_seconds`` and at least as long as the work since the last one: a purge takes
at most half of the database's time, and yields more of it the busier it is.

No Redis key is per thread (fan-out channels and rate limits are per account), so
there is nothing to remove there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.storage.retired_keys import RetiredKeyStore

Sleep = Callable[[float], Awaitable[None]]

# The longest pause: the time since the last one may include idle time (a purge
# started long after the previous one ended).
MAX_PAUSE_SECONDS = 2.0

# GridFS files deleted per batch: each is up to a few hundred 255 KiB chunks.
FILES_PER_BATCH = 8


@dataclass(slots=True)
class Purged:
    """What one purge removed, by kind of document (counts only, never ids)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, count: int) -> None:
        if count:
            self.counts[what] = self.counts.get(what, 0) + count

    def merge(self, other: Purged) -> None:
        for what, count in other.counts.items():
            self.add(what, count)


class ThreadPurge:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        *,
        batch_size: int = 500,
        pause_seconds: float = 0.0,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float],
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._db = db
        self._retired = RetiredKeyStore(db)
        self._batch = batch_size
        self._pause = pause_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._working_since = monotonic()

    def working(self) -> None:
        """Work starts now (what the next pause is measured against): for a caller
        that was idle, so that its first pause is not as long as its idleness."""
        self._working_since = self._monotonic()

    async def pause(self) -> None:
        """The breath between two batches, for the chats sharing the database: as
        long as the work since the last one, and at least ``pause_seconds``."""
        if self._pause > 0:
            worked = min(self._monotonic() - self._working_since, MAX_PAUSE_SECONDS)
            await self._sleep(max(self._pause, worked))
        self.working()

    async def contents(self, thread_id: str) -> Purged:
        """A conversation's messages, attachments and receipts (not its own document)."""
        purged = Purged()
        purged.add("messages", await self._messages(thread_id))
        # After the messages: keys kept to verify them are needed until they are gone.
        purged.add("retired_device_keys", await self._retired.release(thread_id))
        purged.add("attachments", await self._attachments(thread_id))
        purged.add(
            "cursors", (await self._db["cursors"].delete_many({"thread": thread_id})).deleted_count
        )
        purged.add(
            "read_marks",
            (await self._db["read_marks"].delete_many({"thread": thread_id})).deleted_count,
        )
        return purged

    async def care_thread(self, thread_id: str) -> Purged:
        purged = await self.contents(thread_id)
        purged.add(
            "threads", (await self._db["threads"].delete_one({"_id": thread_id})).deleted_count
        )
        return purged

    async def question(self, question_id: str) -> Purged:
        """A panel question (free or paid) and its conversation. A paid chat's question
        id is its chat's id: the chat's document goes with it, as does one that was
        never paid (its question was stored, it never reached the queue)."""
        purged = await self.contents(question_id)
        db = self._db
        purged.add(
            "panel_ratings",
            (await db["panel_ratings"].delete_one({"_id": question_id})).deleted_count,
        )
        purged.add(
            "paid_chats", (await db["paid_chats"].delete_one({"_id": question_id})).deleted_count
        )
        purged.add(
            "panel_questions",
            (await db["panel_questions"].delete_one({"_id": question_id})).deleted_count,
        )
        return purged

    async def campaign(self, campaign_id: str) -> Purged:
        """A mailing: every patient's delivery (their announcement), the recipient
        list, then the campaign with its encrypted body."""
        purged = Purged()
        for name in ("campaign_deliveries", "campaign_recipients"):
            purged.add(name, await self._in_batches(name, {"campaign": campaign_id}))
        purged.add(
            "campaigns",
            (await self._db["campaigns"].delete_one({"_id": campaign_id})).deleted_count,
        )
        return purged

    async def _messages(self, thread_id: str) -> int:
        # Walks the (thread, seq) index: each batch is one range of seqs.
        messages = self._db["messages"]
        deleted = 0
        while True:
            last = [
                doc["seq"]
                async for doc in messages.find({"thread": thread_id}, {"seq": 1, "_id": 0})
                .sort("seq", ASCENDING)
                .skip(self._batch - 1)
                .limit(1)
            ]
            if not last:
                result = await messages.delete_many({"thread": thread_id})
                return deleted + result.deleted_count
            result = await messages.delete_many({"thread": thread_id, "seq": {"$lte": last[0]}})
            deleted += result.deleted_count
            await self.pause()

    async def _attachments(self, thread_id: str) -> int:
        files, chunks = self._db["attachments.files"], self._db["attachments.chunks"]
        deleted = 0
        while True:
            ids = [
                doc["_id"]
                async for doc in files.find({"metadata.thread": thread_id}, {"_id": 1})
                .sort("_id", ASCENDING)
                .limit(FILES_PER_BATCH)
            ]
            if not ids:
                return deleted
            # Chunks first: an interrupted delete leaves a file document that leads
            # the next attempt back to them, never chunks nothing points at.
            await chunks.delete_many({"files_id": {"$in": ids}})
            deleted += (await files.delete_many({"_id": {"$in": ids}})).deleted_count
            await self.pause()

    async def _in_batches(self, collection: str, query: dict[str, Any]) -> int:
        # Unsorted: the first ``batch`` in the index that answers ``query``; what is
        # deleted is gone, so the next find starts where this one stopped.
        docs = self._db[collection]
        deleted = 0
        while True:
            ids = [doc["_id"] async for doc in docs.find(query, {"_id": 1}).limit(self._batch)]
            if not ids:
                return deleted
            deleted += (await docs.delete_many({"_id": {"$in": ids}})).deleted_count
            await self.pause()
