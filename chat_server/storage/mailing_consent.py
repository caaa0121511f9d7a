"""Who opted out of which practice's prevention mailings, and the unsubscribe tokens.

``mailing_opt_outs`` is this feature's own opt-out record, one document per (practice,
patient): the general per-purpose consents (moderation's work) may replace it, with
"prevention mailings of practice P" as the purpose. Until then the fan-out reads it
for every batch, so an opt-out also stops a campaign that is already sending.

``mailing_unsubscribe_tokens`` maps the SHA-256 of an e-mail's one-click unsubscribe
token to its (practice, patient). The token itself is a MAC of the pair under the
server secret, so the same pair always has the same token and the database never
holds one that works.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MailingOptOutStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._opt_outs = db["mailing_opt_outs"]
        self._tokens = db["mailing_unsubscribe_tokens"]

    async def opt_out(self, practice: str, patient: str, now: datetime, via: str) -> None:
        """Idempotent: a second opt-out keeps the first one's time."""
        await self._opt_outs.update_one(
            {"_id": f"{practice}:{patient}"},
            {"$setOnInsert": {"practice": practice, "patient": patient, "at": now, "via": via}},
            upsert=True,
        )

    async def opt_in(self, practice: str, patient: str) -> None:
        await self._opt_outs.delete_one({"_id": f"{practice}:{patient}"})

    async def opted_out(self, practice: str, patients: Sequence[str]) -> set[str]:
        cursor = self._opt_outs.find(
            {"practice": practice, "patient": {"$in": list(patients)}}, {"patient": 1}
        )
        return {doc["patient"] async for doc in cursor}

    async def remember_tokens(self, practice: str, tokens: dict[str, str]) -> None:
        """Stores (hashed) the unsubscribe token of each patient (patient -> token)."""
        if not tokens:
            return
        await self._tokens.bulk_write(
            [
                UpdateOne(
                    {"_id": token_hash(token)},
                    {"$setOnInsert": {"practice": practice, "patient": patient}},
                    upsert=True,
                )
                for patient, token in tokens.items()
            ],
            ordered=False,
        )

    async def by_token(self, token: str) -> tuple[str, str] | None:
        doc = await self._tokens.find_one({"_id": token_hash(token)})
        return (doc["practice"], doc["patient"]) if doc else None
