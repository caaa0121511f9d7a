"""Moderator actions on accounts, kept on the account document itself.

The current suspension (``suspension``) sits beside ``status`` so that one read at
login says both; every action, warnings included, is appended to ``sanctions`` (the
last ``HISTORY`` kept) for the person's own view. Each change is one conditional
update, so two moderators acting at once cannot both suspend (or both lift).
"""

from __future__ import annotations

from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.principal import AccountStatus
from moderation.sanctions import ModeratorAction, Sanction

HISTORY: Final = 50


class SanctionStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._accounts = db["accounts"]

    async def apply(self, account_id: str, sanction: Sanction) -> bool:
        """Records ``sanction``; False when the account is missing or in the wrong
        state for it (suspending a suspended account, lifting an active one)."""
        push = {"sanctions": {"$each": [sanction.to_document()], "$slice": -HISTORY}}
        suspended = str(AccountStatus.SUSPENDED)
        match sanction.action:
            case ModeratorAction.WARN:
                query: dict[str, Any] = {"_id": account_id}
                update: dict[str, Any] = {"$push": push}
            case ModeratorAction.SUSPEND:
                query = {"_id": account_id, "status": {"$ne": suspended}}
                update = {
                    "$set": {"status": suspended, "suspension": sanction.to_document()},
                    "$push": push,
                }
            case ModeratorAction.LIFT:
                query = {"_id": account_id, "status": suspended}
                update = {
                    "$set": {"status": str(AccountStatus.ACTIVE), "suspension": None},
                    "$push": push,
                }
        result = await self._accounts.update_one(query, update)
        return result.modified_count == 1

    async def history(self, account_id: str) -> list[Sanction]:
        doc = await self._accounts.find_one({"_id": account_id}, {"sanctions": 1})
        if doc is None:
            return []
        return [Sanction.from_document(entry) for entry in doc.get("sanctions", [])]
