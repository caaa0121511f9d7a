"""``retired_device_keys``: an erased person's public device keys, kept for the others.

After an erasure (docs/gdpr.md) the threads other people also wrote in stay: they are
the other party's medical record (GDPR art. 17(3)(c) and (h)). Their clients verify
each message's signature against the sender device's certificate, which chains to
the sender's root key; with the devices gone they could not, and would show the
erased person's messages as unreadable. So erasure keeps, per former account id, only
what that verification needs: the root key and, for each device that signed a
retained message, its ``device_added`` key-log entry (the certificate carries the
device id and its public signing and encryption keys). No address, name, profile or
private key; nothing to encrypt to (the directory lists no active device).

Served by the key directory to the participants of those retained threads only
(:meth:`RetiredKeyStore.for_reader`): anyone else gets the same 404 as for an id
that never existed.

A record lives as long as its threads: whatever deletes a retained thread's messages
(retention's purge, storage/purge.py, or the erasure of the last person who still
had it, storage/personal_data.py) calls :meth:`RetiredKeyStore.release`, and the
record goes with the last of its threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "retired_device_keys"


@dataclass(frozen=True, slots=True)
class RetiredKeys:
    account_id: str  # the former account id
    root_key: str | None
    key_log: list[dict[str, Any]]  # device_added entries: seq, event, device_id, certificate


class RetiredKeyStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self._keys = db[COLLECTION]

    async def keep(
        self,
        account_id: str,
        root_key: str | None,
        key_log: list[dict[str, Any]],
        threads: list[str],
    ) -> None:
        # An upsert: the erasure job may run again after a crash.
        await self._keys.replace_one(
            {"_id": account_id},
            {"root_key": root_key, "key_log": key_log, "threads": threads},
            upsert=True,
        )

    async def for_reader(self, account_id: str, reader: str) -> RetiredKeys | None:
        """The keys if ``reader`` takes part in one of the retained threads, else None.

        Read against the threads as they are now (a practice colleague who joined
        later reads the practice's record too): care threads by their participants,
        panel questions and paid chats by their patient and the GP who claimed them,
        and anyone who wrote in one.
        """
        doc = await self._keys.find_one({"_id": account_id})
        if doc is None or reader == account_id:
            return None
        threads = list(doc.get("threads") or [])
        shared = (
            await self._db["threads"].find_one(
                {"_id": {"$in": threads}, "participants": reader}, {"_id": 1}
            )
            or await self._db["panel_questions"].find_one(
                {"_id": {"$in": threads}, "$or": [{"patient": reader}, {"claimed_by": reader}]},
                {"_id": 1},
            )
            or await self._db["messages"].find_one(
                {"thread": {"$in": threads}, "sender_account": reader}, {"_id": 1}
            )
        )
        if shared is None:
            return None
        return RetiredKeys(account_id, doc.get("root_key"), list(doc.get("key_log") or []))

    async def release(self, thread_id: str) -> int:
        """``thread_id``'s messages are gone: no record keeps keys for it any more, and
        a record it was the last thread of is deleted. Returns how many were deleted.

        Idempotent, and never leaves a record with no thread after a crash: the
        records it was the only thread of go in one delete before it is pulled from
        the others. The last delete catches a record emptied by two releases racing
        (retention and an erasure, each pulling another of its threads)."""
        holders = [doc["_id"] async for doc in self._keys.find({"threads": thread_id}, {"_id": 1})]
        if not holders:
            return 0
        deleted = (await self._keys.delete_many({"threads": [thread_id]})).deleted_count
        await self._keys.update_many({"threads": thread_id}, {"$pull": {"threads": thread_id}})
        emptied = await self._keys.delete_many({"_id": {"$in": holders}, "threads": []})
        return deleted + emptied.deleted_count
