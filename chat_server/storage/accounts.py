"""Accounts: credentials, role, status, professional registration, TOTP, root key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_server.principal import AccountStatus, Role
from moderation.sanctions import Sanction


@dataclass(frozen=True, slots=True)
class Registration:
    """A practitioner's professional number (RIZIV/INAMI in Belgium, RPPS in France)."""

    scheme: str
    number: str
    verified: bool


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    # Names the request in the erasure job, so the job document names no account.
    id: str
    requested_at: datetime
    erase_after: datetime


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    email: str
    role: Role
    status: AccountStatus
    display_name: str
    password_hash: str
    created_at: datetime
    registration: Registration | None
    totp_secret: str | None
    totp_enabled: bool
    totp_last_step: int | None
    root_key: str | None
    accepting_requests: bool
    away_message: str | None
    # Why the account is suspended (status SUSPENDED), shown to its owner at login.
    suspension: Sanction | None = None
    # A pending GDPR erasure (docs/gdpr.md): when it was asked, when it will happen.
    erasure: ErasureRequest | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Account:
        reg = doc.get("registration")
        return cls(
            id=doc["_id"],
            email=doc["email"],
            role=Role(doc["role"]),
            status=AccountStatus(doc["status"]),
            display_name=doc["display_name"],
            password_hash=doc["password_hash"],
            created_at=doc["created_at"],
            registration=Registration(**reg) if reg else None,
            totp_secret=doc.get("totp_secret"),
            totp_enabled=bool(doc.get("totp_enabled")),
            totp_last_step=doc.get("totp_last_step"),
            root_key=doc.get("root_key"),
            accepting_requests=doc.get("accepting_requests", True),
            away_message=doc.get("away_message"),
            suspension=Sanction.from_document(doc["suspension"]) if doc.get("suspension") else None,
            erasure=(ErasureRequest(**doc["erasure"]) if doc.get("erasure") else None),
        )

    def public_profile(self) -> dict[str, Any]:
        """What another authorised account may see: no e-mail, no credentials."""
        profile: dict[str, Any] = {
            "account_id": self.id,
            "role": str(self.role),
            "display_name": self.display_name,
        }
        if self.registration is not None:
            profile["registration"] = {
                "scheme": self.registration.scheme,
                "number": self.registration.number,
                "status": "verified" if self.registration.verified else "unverified",
            }
        return profile


class EmailTaken(Exception):
    pass


class AccountStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._accounts = db["accounts"]

    async def create(
        self,
        *,
        account_id: str,
        email: str,
        role: Role,
        display_name: str,
        password_hash: str,
        now: datetime,
        registration: Registration | None,
        status: AccountStatus = AccountStatus.UNVERIFIED,
    ) -> Account:
        doc: dict[str, Any] = {
            "_id": account_id,
            "email": email,
            "role": str(role),
            "status": str(status),
            "display_name": display_name,
            "password_hash": password_hash,
            "created_at": now,
            "registration": (
                {"scheme": registration.scheme, "number": registration.number, "verified": False}
                if registration
                else None
            ),
            "accepting_requests": True,
        }
        try:
            await self._accounts.insert_one(doc)
        except DuplicateKeyError:
            raise EmailTaken() from None
        return Account.from_doc(doc)

    async def discard_unverified(self, account_id: str) -> bool:
        """Deletes the account if its address was never confirmed: an unverified
        registration does not reserve the address (e-mail pre-hijacking)."""
        result = await self._accounts.delete_one(
            {"_id": account_id, "status": str(AccountStatus.UNVERIFIED)}
        )
        return result.deleted_count == 1

    async def get(self, account_id: str) -> Account | None:
        doc = await self._accounts.find_one({"_id": account_id})
        return Account.from_doc(doc) if doc else None

    async def many(self, account_ids: list[str]) -> dict[str, Account]:
        cursor = self._accounts.find({"_id": {"$in": account_ids}})
        return {doc["_id"]: Account.from_doc(doc) async for doc in cursor}

    async def ids_by_email(self, emails: list[str]) -> dict[str, str]:
        """e-mail -> account id, for the addresses that have an account."""
        cursor = self._accounts.find({"email": {"$in": emails}}, {"email": 1})
        return {doc["email"]: doc["_id"] async for doc in cursor}

    async def by_email(self, email: str) -> Account | None:
        doc = await self._accounts.find_one({"email": email})
        return Account.from_doc(doc) if doc else None

    async def set_fields(self, account_id: str, **fields: Any) -> Account | None:
        doc = await self._accounts.find_one_and_update(
            {"_id": account_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        return Account.from_doc(doc) if doc else None

    async def claim_totp_step(self, account_id: str, step: int) -> bool:
        """Records ``step`` as used; False if it (or a later one) already was."""
        result = await self._accounts.update_one(
            {
                "_id": account_id,
                "$or": [{"totp_last_step": None}, {"totp_last_step": {"$lt": step}}],
            },
            {"$set": {"totp_last_step": step}},
        )
        return result.modified_count == 1

    async def request_erasure(self, account_id: str, request: ErasureRequest) -> bool:
        """Records a pending erasure; False if one is already pending."""
        result = await self._accounts.update_one(
            {"_id": account_id, "erasure": None},
            {"$set": {"erasure": {"id": request.id, "requested_at": request.requested_at,
                                  "erase_after": request.erase_after}}},
        )  # fmt: skip
        return result.modified_count == 1

    async def by_erasure(self, erasure_id: str) -> Account | None:
        doc = await self._accounts.find_one({"erasure.id": erasure_id})
        return Account.from_doc(doc) if doc else None

    async def cancel_erasure(self, account_id: str) -> bool:
        """False if no erasure was pending."""
        result = await self._accounts.update_one(
            {"_id": account_id, "erasure": {"$ne": None}}, {"$set": {"erasure": None}}
        )
        return result.modified_count == 1

    async def notify_preferences(self, account_id: str) -> tuple[bool, bool] | None:
        """(by e-mail, by text): whether "a message is waiting" reaches the account
        each way; both on unless the account turned one off. None: no such account."""
        doc = await self._accounts.find_one({"_id": account_id}, {"notify": 1})
        if doc is None:
            return None
        notify = doc.get("notify") or {}
        return bool(notify.get("email", True)), bool(notify.get("sms", True))

    async def set_notify_preferences(self, account_id: str, *, email: bool, sms: bool) -> bool:
        result = await self._accounts.update_one(
            {"_id": account_id}, {"$set": {"notify": {"email": email, "sms": sms}}}
        )
        return result.matched_count == 1
