"""Background bulk writes, paced so that none holds MongoDB for long.

Delivery cursors and thread counters are written in the background, many at a time.
One unordered bulk of a thousand upserts keeps mongod busy for 100-170 ms on a
two-core machine, and every message sent meanwhile waits that long for its
majority-acknowledged insert: those bulks were most of the benchmark's p99
(docs/benchmarks.md, "Ninth step"). Written in small bulks spread over a while, the
same updates cost the same, and an insert waits behind one small bulk at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

# Updates per bulk: small enough that an insert behind one waits a few milliseconds.
PACED_CHUNK = 64


async def write_paced(
    collection: AsyncCollection[dict[str, Any]],
    updates: Sequence[UpdateOne],
    *,
    within: float,
    chunk: int = PACED_CHUNK,
) -> None:
    """Writes ``updates`` (unordered) in bulks of at most ``chunk``, their starts spread
    evenly over ``within`` seconds. A failed bulk raises at once: what it and the rest
    would have written is the caller's to retry (these updates are idempotent)."""
    parts = [updates[i : i + chunk] for i in range(0, len(updates), chunk)]
    gap = within / len(parts) if parts else 0.0
    for index, part in enumerate(parts):
        if index:
            await asyncio.sleep(gap)
        await collection.bulk_write(list(part), ordered=False)
