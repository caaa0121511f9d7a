"""The one-click unsubscribe tokens of prevention mailings (``mailing_unsubscribe_tokens``).

Whether a patient receives a practice's prevention mailings is a consent like any
other (``consents``, purpose ``prevention_mailings``, scoped by the practice: see
``moderation/consents.py``); this store only maps the SHA-256 of an e-mail's one-click
unsubscribe token to its (practice, patient), so that the POST, which has no session,
knows whose consent to revoke. The token itself is a MAC of the pair under the server
secret, so the same pair always has the same token and the database never holds one
that works. (The opt-outs this feature once kept itself, ``mailing_opt_outs``, were
moved into ``consents`` by ``carechat migrate``; see ``storage/migrations.py``.)
"""

from __future__ import annotations

import hashlib
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UnsubscribeTokenStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._tokens = db["mailing_unsubscribe_tokens"]

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
