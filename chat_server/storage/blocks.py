"""Blocks between accounts (collection ``blocks``): one document per (blocker, blocked).

A block is the blocker's alone: only they can undo it, and a block in each direction
is two documents. Blocking twice is one block (the unique index).

Every block and unblock also counts one change (collection ``block_changes``, one
document): a process that caches blocks asks that one number every few seconds
instead of reloading each account's blocks (handlers/blocks.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.storage.change_counts import ChangeCount


class BlockStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._blocks = db["blocks"]
        self._changes = ChangeCount(db["block_changes"], "blocks")

    async def block(self, blocker: str, blocked: str, at: datetime) -> None:
        await self._blocks.update_one(
            {"blocker": blocker, "blocked": blocked},
            {"$setOnInsert": {"at": at}},
            upsert=True,
        )
        await self._changes.bump()

    async def unblock(self, blocker: str, blocked: str) -> bool:
        result = await self._blocks.delete_one({"blocker": blocker, "blocked": blocked})
        if result.deleted_count != 1:
            return False
        await self._changes.bump()
        return True

    async def version(self) -> int:
        """How many blocks and unblocks there have been (a change, not a count)."""
        return await self._changes.read()

    async def by(self, blocker: str) -> list[tuple[str, datetime]]:
        """Whom ``blocker`` blocked, oldest first."""
        cursor = self._blocks.find({"blocker": blocker}).sort("at", 1)
        return [(doc["blocked"], doc["at"]) async for doc in cursor]

    async def involving(self, account_id: str) -> frozenset[str]:
        """Every account ``account_id`` blocked or was blocked by."""
        cursor = self._blocks.find({"$or": [{"blocker": account_id}, {"blocked": account_id}]})
        return frozenset(
            [
                doc["blocked"] if doc["blocker"] == account_id else doc["blocker"]
                async for doc in cursor
            ]
        )
