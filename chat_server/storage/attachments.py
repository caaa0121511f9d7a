"""Attachment ciphertext in GridFS, and opaque key-backup blobs.

The server never sees an attachment's key: clients encrypt with secretstream and put
the key and the ciphertext hash inside the (encrypted) message that refers to the
attachment. What is stored here is ciphertext, written and read as a stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

CHUNK_BYTES = 255 * 1024


class AttachmentTooLarge(Exception):
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
        """Streams ``chunks`` in; aborts (nothing kept) past ``max_bytes``."""
        stream = self._bucket.open_upload_stream_with_id(
            attachment_id,
            attachment_id,
            metadata={"thread": thread_id, "uploader": uploader, "uploaded_at": now},
        )
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise AttachmentTooLarge()
                await stream.write(chunk)
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
