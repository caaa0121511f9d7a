"""Change counts: one stored number per kind of cached thing, raised by every change.

A process that keeps blocks, device lists or open threads in memory asks one of these
numbers every few seconds and drops what it kept when the number moved
(``chat_server.cache.CountedCache``), instead of reloading every entry on a timer. The
count is raised *after* the change's own write: a process that sees the new number
then reads the change itself.

Each count is one document (``{"_id": <kind>, "n": <int>}``) in its own small
collection; no account, thread or device is named in it.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


class ChangeCount:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], kind: str) -> None:
        self._collection = collection
        self._kind = kind

    async def read(self) -> int:
        """How many changes there have been (a change to compare, not a count to use)."""
        doc = await self._collection.find_one({"_id": self._kind})
        return int(doc["n"]) if doc else 0

    async def bump(self) -> None:
        await self._collection.update_one({"_id": self._kind}, {"$inc": {"n": 1}}, upsert=True)
