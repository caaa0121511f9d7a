"""The export archive's format (docs/gdpr.md): a ZIP streamed as it is written.

::

    archive.json                 schema, version, generated_at, account_id, the
                                 sections (account, devices, consents, ...), the list
                                 of threads and of attachments, with their paths, and
                                 the senders' public keys (to verify offline)
    threads/<thread_id>.json     one thread: its stored document and every message's
                                 envelope exactly as stored (base64url)
    attachments/<id>.bin         each attachment's ciphertext, byte for byte

Threads go one file each so that memory holds one thread's messages at a time, and
archive.json comes last because it lists what the other entries hold. ``zipfile``
writes to a stream it cannot seek (data descriptors after each entry), so every entry
leaves the server as it is compressed; nothing is written to disk or kept.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chat_server.storage.personal_data import Person, PersonalDataStore

SCHEMA = "carechat.export"
VERSION = 1
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}\Z")


class _Sink:
    """The write-only file ``zipfile`` writes into; drained after every write."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._pending += data
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def drain(self) -> bytes:
        out = bytes(self._pending)
        self._pending.clear()
        return out


def _name(kind: str, identifier: str, index: int, suffix: str) -> str:
    # Ids are base64url; anything else (an old or foreign id) gets a numbered name.
    stem = identifier if _SAFE_NAME.match(identifier) else f"item-{index}"
    return f"{kind}/{stem}{suffix}"


async def archive_chunks(
    store: PersonalDataStore, person: Person, generated_at: datetime
) -> AsyncIterator[bytes]:
    sink = _Sink()
    archive = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED)
    thread_ids = await store.thread_ids(person.account_id)
    threads_index: list[dict[str, Any]] = []
    for index, thread in enumerate(await store.threads(thread_ids)):
        path = _name("threads", thread["thread_id"], index, ".json")
        messages = [m async for m in store.messages(thread["thread_id"])]
        archive.writestr(path, json.dumps({**thread, "messages": messages}, indent=1))
        threads_index.append(
            {"thread_id": thread["thread_id"], "kind": thread["kind"], "path": path,
             "messages": len(messages)}
        )  # fmt: skip
        yield sink.drain()
    files_index: list[dict[str, Any]] = []
    for index, stored in enumerate(await store.files(thread_ids, person.account_id)):
        path = _name("attachments", stored.id, index, ".bin")
        # Ciphertext compresses to nothing: stored as is.
        info = zipfile.ZipInfo(path, date_time=generated_at.timetuple()[:6])
        with archive.open(info, mode="w", force_zip64=True) as entry:
            async for chunk in store.file_chunks(stored.id):
                entry.write(chunk)
                yield sink.drain()
        files_index.append(
            {"attachment_id": stored.id, "thread_id": stored.thread, "uploader": stored.uploader,
             "size": stored.size, "path": path}
        )  # fmt: skip
        yield sink.drain()
    mailings = await store.mailings(person.account_id)
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "generated_at": generated_at.isoformat(),
        "account_id": person.account_id,
        **await store.sections(person),
        "threads": threads_index,
        "mailings": mailings,
        "senders": await store.senders(thread_ids, [m["campaign_id"] for m in mailings]),
        "attachments": files_index,
    }
    archive.writestr("archive.json", json.dumps(document, indent=1))
    archive.close()
    yield sink.drain()
