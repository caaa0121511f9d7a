"""HTTP sessions, WebSocket tickets and one-time codes, all stored as hashes.

Sessions have an idle expiry (slid forward on use, at most once a minute to spare
writes) and an absolute one. Tickets and codes are single-use: redeeming one is a
``find_one_and_delete``, so two concurrent redemptions cannot both succeed. TTL
indexes purge what has expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.tokens import token_hash


@dataclass(frozen=True, slots=True)
class Session:
    id: str  # the hash of the token, never the token
    account_id: str
    created_at: datetime
    idle_expires_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Ticket:
    account_id: str
    session_id: str
    device_id: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OneTimeCode:
    purpose: str
    subject: str
    data: dict[str, Any]
    expires_at: datetime


class SessionStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._sessions = db["sessions"]

    async def create(
        self, token: str, account_id: str, now: datetime, idle: timedelta, absolute: timedelta
    ) -> Session:
        doc = {
            "_id": token_hash(token),
            "account_id": account_id,
            "created_at": now,
            "idle_expires_at": now + idle,
            "expires_at": now + absolute,
        }
        await self._sessions.insert_one(doc)
        return _session(doc)

    async def find_live(self, token: str, now: datetime, idle: timedelta) -> Session | None:
        doc = await self._sessions.find_one({"_id": token_hash(token)})
        if doc is None or doc["expires_at"] <= now or doc["idle_expires_at"] <= now:
            return None
        new_idle = min(now + idle, doc["expires_at"])
        if new_idle - doc["idle_expires_at"] > timedelta(minutes=1):
            await self._sessions.update_one(
                {"_id": doc["_id"]}, {"$set": {"idle_expires_at": new_idle}}
            )
            doc["idle_expires_at"] = new_idle
        return _session(doc)

    async def is_live(self, session_id: str, now: datetime) -> bool:
        doc = await self._sessions.find_one(
            {"_id": session_id}, {"expires_at": 1, "idle_expires_at": 1}
        )
        return bool(doc and doc["expires_at"] > now and doc["idle_expires_at"] > now)

    async def revoke(self, session_id: str) -> bool:
        return (await self._sessions.delete_one({"_id": session_id})).deleted_count == 1

    async def revoke_all(self, account_id: str, *, except_session: str | None = None) -> int:
        query: dict[str, Any] = {"account_id": account_id}
        if except_session is not None:
            query["_id"] = {"$ne": except_session}
        return (await self._sessions.delete_many(query)).deleted_count


def _session(doc: dict[str, Any]) -> Session:
    return Session(
        id=doc["_id"],
        account_id=doc["account_id"],
        created_at=doc["created_at"],
        idle_expires_at=doc["idle_expires_at"],
        expires_at=doc["expires_at"],
    )


class TicketStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._tickets = db["ws_tickets"]

    async def issue(self, token: str, ticket: Ticket) -> None:
        await self._tickets.insert_one(
            {
                "_id": token_hash(token),
                "account_id": ticket.account_id,
                "session_id": ticket.session_id,
                "device_id": ticket.device_id,
                "expires_at": ticket.expires_at,
            }
        )

    async def redeem(self, token: str, now: datetime) -> Ticket | None:
        doc = await self._tickets.find_one_and_delete({"_id": token_hash(token)})
        if doc is None or doc["expires_at"] <= now:
            return None
        return Ticket(doc["account_id"], doc["session_id"], doc["device_id"], doc["expires_at"])

    async def revoke_all(self, account_id: str) -> int:
        return (await self._tickets.delete_many({"account_id": account_id})).deleted_count


class CodeStore:
    """Single-use codes sent by e-mail or SMS: e-mail verification, password reset,
    invitations and the phone codes that bind SMS invitations."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._codes = db["one_time_codes"]

    async def issue(self, token: str, code: OneTimeCode) -> None:
        await self._codes.insert_one(
            {
                "_id": token_hash(token),
                "purpose": code.purpose,
                "subject": code.subject,
                "data": code.data,
                "expires_at": code.expires_at,
            }
        )

    async def redeem(
        self, token: str, purpose: str, now: datetime, *, bound: Mapping[str, str] | None = None
    ) -> OneTimeCode | None:
        """Uses the code up. With ``bound``, only if its data holds those values: a code
        bound to someone else stays unused for them (an invitation to an address)."""
        query: dict[str, Any] = {"_id": token_hash(token), "purpose": purpose}
        query.update({f"data.{key}": value for key, value in (bound or {}).items()})
        doc = await self._codes.find_one_and_delete(query)
        return _live_code(doc, now)

    async def peek(self, token: str, purpose: str, now: datetime) -> OneTimeCode | None:
        """The live code, left unused."""
        doc = await self._codes.find_one({"_id": token_hash(token), "purpose": purpose})
        return _live_code(doc, now)

    async def discard(self, purpose: str, subject: str) -> int:
        """Every outstanding code for ``subject`` (older reset links after a reset)."""
        result = await self._codes.delete_many({"purpose": purpose, "subject": subject})
        return result.deleted_count


def _live_code(doc: dict[str, Any] | None, now: datetime) -> OneTimeCode | None:
    if doc is None or doc["expires_at"] <= now:
        return None
    return OneTimeCode(doc["purpose"], doc["subject"], doc["data"], doc["expires_at"])
