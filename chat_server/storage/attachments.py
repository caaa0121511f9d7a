"""Attachment ciphertext in GridFS, and opaque key-backup blobs.

The server never sees an attachment's key: clients encrypt with secretstream and put
the key and the ciphertext hash inside the (encrypted) message that refers to the
attachment. What is stored here is ciphertext, written and read as a stream.

Since the reference inside the message is encrypted, the ``send`` frame names the
attachment ids it refers to in clear, and the send *claims* them (``claim``). An
upload never claimed is purged once its grace period is over (``purge_unclaimed``).
Files are marked ``purging`` before they are deleted, and a claim only takes files
not so marked, so a claim and a purge racing never leave a message pointing at a
file that is gone: either the claim wins and the file stays, or the purge wins and
the send is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

CHUNK_BYTES = 255 * 1024
# Files one purge pass looks at; the next pass (or the next hour) takes the rest.
PURGE_BATCH = 500


class AttachmentTooLarge(Exception):
    pass


class EmptyAttachment(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: str
    thread_id: str
    uploader: str
    size: int
    uploaded_at: datetime


class AttachmentStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._bucket = AsyncGridFSBucket(
            db, bucket_name="attachments", chunk_size_bytes=CHUNK_BYTES
        )
        self._files = db["attachments.files"]
        self._chunks = db["attachments.chunks"]

    async def upload(
        self,
        attachment_id: str,
        *,
        thread_id: str,
        uploader: str,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
        now: datetime,
    ) -> int:
        """Streams ``chunks`` in; aborts (nothing kept) past ``max_bytes`` or if empty."""
        stream = self._bucket.open_upload_stream_with_id(
            attachment_id,
            attachment_id,
            metadata={
                "thread": thread_id,
                "uploader": uploader,
                "uploaded_at": now,
                "claimed": False,
            },
        )
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise AttachmentTooLarge()
                await stream.write(chunk)
            if size == 0:
                raise EmptyAttachment()
        except BaseException:
            await stream.abort()
            raise
        await stream.close()
        return size

    async def info(self, attachment_id: str) -> AttachmentInfo | None:
        doc = await self._files.find_one({"_id": attachment_id})
        if doc is None:
            return None
        meta = doc.get("metadata") or {}
        return AttachmentInfo(
            doc["_id"], meta.get("thread", ""), meta.get("uploader", ""), doc["length"],
            meta.get("uploaded_at", doc["uploadDate"]),
        )  # fmt: skip

    async def stored_bytes(self, uploader: str) -> int:
        """The bytes of every file ``uploader`` has stored (their quota's usage)."""
        rows = await self._files.aggregate(
            [
                {"$match": {"metadata.uploader": uploader}},
                {"$group": {"_id": None, "total": {"$sum": "$length"}}},
            ]
        )
        async for row in rows:
            return int(row["total"])
        return 0

    async def claim(
        self, attachment_ids: Sequence[str], *, thread_id: str, uploader: str, now: datetime
    ) -> bool:
        """Marks the files as referenced by a message; False unless every one is in
        ``thread_id``, was uploaded by ``uploader`` and is not being purged.

        Claiming again (a resend) is harmless: ``claimed_at`` keeps the first claim.
        """
        wanted = sorted(set(attachment_ids))
        if not wanted:
            return True
        result = await self._files.update_many(
            {
                "_id": {"$in": wanted},
                "metadata.thread": thread_id,
                "metadata.uploader": uploader,
                "metadata.purging": {"$exists": False},
            },
            {"$set": {"metadata.claimed": True}, "$min": {"metadata.claimed_at": now}},
        )
        return result.matched_count == len(wanted)

    async def delete(self, attachment_id: str) -> bool:
        """Removes a file, chunks first: an interrupted delete leaves a file document
        that the next attempt finds again, never chunks nothing points at. True if
        this call removed the file document (of several racing, exactly one)."""
        await self._chunks.delete_many({"files_id": attachment_id})
        return (await self._files.delete_one({"_id": attachment_id})).deleted_count == 1

    async def purge_unclaimed(self, uploaded_before: datetime) -> int:
        """Deletes up to ``PURGE_BATCH`` files never claimed and uploaded before the
        cutoff; returns how many this call deleted.

        Safe on several processes at once and after a crash half-way: the ``purging``
        mark is set by a conditional update that a claim cannot pass, and a marked
        file is deleted by whoever finds it next; of passes racing on one file, the
        one that removes its document counts it.
        """
        unclaimed = {"metadata.claimed": False, "metadata.uploaded_at": {"$lt": uploaded_before}}
        purged = 0
        cursor = self._files.find(unclaimed, {"_id": 1}).limit(PURGE_BATCH)
        async for doc in cursor:
            marked = await self._files.update_one(
                {"_id": doc["_id"], **unclaimed}, {"$set": {"metadata.purging": True}}
            )
            if marked.matched_count == 0:
                continue  # claimed (or deleted) since the find
            purged += await self.delete(doc["_id"])
        return purged

    async def download(self, attachment_id: str) -> AsyncIterator[bytes]:
        try:
            stream = await self._bucket.open_download_stream(attachment_id)
        except NoFile:
            return
        while chunk := await stream.readchunk():
            yield chunk


class KeyBackupStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._backups = db["key_backups"]

    async def put(self, account_id: str, blob: bytes, now: datetime) -> None:
        await self._backups.update_one(
            {"_id": account_id},
            {"$set": {"blob": Binary(blob), "updated_at": now}},
            upsert=True,
        )

    async def get(self, account_id: str) -> bytes | None:
        doc = await self._backups.find_one({"_id": account_id})
        return bytes(doc["blob"]) if doc else None
