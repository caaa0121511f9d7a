"""Every index CareChat needs, created by one function.

Production start-up, ``carechat migrate`` and each test database call
:func:`ensure_indexes`, so the tests run against exactly the production schema.
Unique indexes are how CareChat is idempotent (one message per client id, one
delivery per campaign and patient), so they are part of correctness, not tuning.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

A, D = ASCENDING, DESCENDING

INDEXES: dict[str, list[IndexModel]] = {
    "jobs": [
        IndexModel([("state", A), ("run_at", A)], name="due"),
        IndexModel([("kind", A), ("dedupe_key", A)], name="dedupe", unique=True,
                   partialFilterExpression={"dedupe_key": {"$type": "string"}}),
    ],
}  # fmt: skip


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Creates missing collections' indexes; safe to run again and concurrently."""
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)
