"""The key directory: each account's devices and the append-only log of key changes.

The log is the first step to key transparency: every root-key set, device addition
and revocation gets the next ``seq`` of its account (unique index), so a client that
remembers the last seq it saw can tell if history was rewritten or hidden.

Every addition and revocation also counts one change (collection ``device_changes``,
``storage/change_counts.py``): processes that keep device lists in memory ask that one
number every few seconds (handlers/directory.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_server.storage.change_counts import ChangeCount


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    account_id: str
    enc_key: str  # base64url X25519 public key
    sign_key: str  # base64url Ed25519 public key
    certificate: str  # base64url Ed25519 signature by the account's root key
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Device:
        return cls(
            doc["_id"],
            doc["account_id"],
            doc["enc_key"],
            doc["sign_key"],
            doc["certificate"],
            doc["created_at"],
            doc.get("revoked_at"),
        )

    def to_public(self) -> dict[str, Any]:
        return {
            "device_id": self.id,
            "account_id": self.account_id,
            "enc_key": self.enc_key,
            "sign_key": self.sign_key,
            "certificate": self.certificate,
            "created_at": self.created_at.isoformat(),
        }


class DeviceExists(Exception):
    pass


class DeviceStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._devices = db["devices"]
        self._log = db["key_log"]
        self._changes = ChangeCount(db["device_changes"], "devices")

    async def add(self, device: Device) -> None:
        try:
            await self._devices.insert_one(
                {
                    "_id": device.id,
                    "account_id": device.account_id,
                    "enc_key": device.enc_key,
                    "sign_key": device.sign_key,
                    "certificate": device.certificate,
                    "created_at": device.created_at,
                    "revoked_at": None,
                }
            )
        except DuplicateKeyError:
            raise DeviceExists() from None
        await self._changes.bump()

    async def get(self, device_id: str) -> Device | None:
        doc = await self._devices.find_one({"_id": device_id})
        return Device.from_doc(doc) if doc else None

    async def active(self, account_ids: list[str]) -> list[Device]:
        cursor = self._devices.find({"account_id": {"$in": account_ids}, "revoked_at": None}).sort(
            "created_at", 1
        )
        return [Device.from_doc(doc) async for doc in cursor]

    async def revoke(self, account_id: str, device_id: str, now: datetime) -> bool:
        result = await self._devices.update_one(
            {"_id": device_id, "account_id": account_id, "revoked_at": None},
            {"$set": {"revoked_at": now}},
        )
        if result.modified_count != 1:
            return False
        await self._changes.bump()
        return True

    async def revoke_all(self, account_id: str, now: datetime) -> list[str]:
        ids = [d.id for d in await self.active([account_id])]
        result = await self._devices.update_many(
            {"account_id": account_id, "revoked_at": None}, {"$set": {"revoked_at": now}}
        )
        if result.modified_count:
            await self._changes.bump()
        return ids

    async def version(self) -> int:
        """How many additions and revocations there have been (a change, not a count)."""
        return await self._changes.read()

    async def append_log(self, account_id: str, now: datetime, event: dict[str, Any]) -> int:
        """Appends to the account's key log; retries when a concurrent append won the seq."""
        while True:
            last = await self._log.find_one({"account_id": account_id}, sort=[("seq", DESCENDING)])
            seq = (last["seq"] if last else 0) + 1
            try:
                await self._log.insert_one(
                    {"account_id": account_id, "seq": seq, "at": now, **event}
                )
            except DuplicateKeyError:
                continue
            return seq

    async def log(self, account_id: str, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        cursor = (
            self._log.find({"account_id": account_id, "seq": {"$gt": after}}, {"_id": 0})
            .sort("seq", 1)
            .limit(limit)
        )
        return [{**doc, "at": doc["at"].isoformat()} async for doc in cursor]
