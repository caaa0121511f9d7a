"""Attachments: streamed encryption up, verified decryption down."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.storage.attachments import AttachmentStore
from e2e_crypto.client import Attachment, AttachmentCorrupted, NotFoundError
from tests.sdk.conversation import care_thread, take
from tests.sdk.people import People


def _files(directory: Path, prefix: str) -> list[Path]:
    return list(directory.glob(f"{prefix}*"))


async def test_files_round_trip_and_tampering_leaves_nothing(
    people: People, tmp_path: Path
) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    eve = await people.join("eve@example.org", "patient", "eve-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()

    scan = tmp_path / "scan.pdf"
    scan.write_bytes(os.urandom(200_000))  # several 64 KiB chunks, a short last one
    seq, sent = await ann.send_attachment(thread_id, scan, "scan.pdf", "application/pdf")
    [received] = await take(doctor, 1)
    assert received.seq == seq
    payload = received.payload
    assert isinstance(payload, Attachment)
    assert payload == sent
    assert (payload.name, payload.mime, payload.size) == ("scan.pdf", "application/pdf", 200_000)
    out = await doctor.download_attachment(payload, tmp_path / "from-ann.pdf")
    assert out.read_bytes() == scan.read_bytes()

    async def dictated() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([i]) * 30_000

    _, voice = await doctor.send_attachment(thread_id, dictated(), "note.ogg", "audio/ogg")
    [got] = await take(ann, 1)
    assert got.payload == voice
    path = await ann.download_attachment(voice, tmp_path / "note.ogg")
    assert path.read_bytes() == b"".join(bytes([i]) * 30_000 for i in range(5))

    # A payload whose digest does not match the stored ciphertext: refused, no file.
    forged = dataclasses.replace(payload, digest=bytes(32))
    target = tmp_path / "forged.pdf"
    with pytest.raises(AttachmentCorrupted):
        await doctor.download_attachment(forged, target)
    assert not target.exists()
    assert not (tmp_path / "forged.pdf.part").exists()
    wrong_size = dataclasses.replace(payload, size=payload.size - 1)
    with pytest.raises(AttachmentCorrupted):
        await doctor.download_attachment(wrong_size, target)
    assert _files(tmp_path, "forged") == []

    # Someone outside the thread cannot fetch the ciphertext at all.
    with pytest.raises(NotFoundError):
        await eve.download_attachment(payload, tmp_path / "stolen.pdf")
    assert _files(tmp_path, "stolen") == []


async def test_a_sent_attachment_outlives_the_purge_of_unsent_uploads(
    people: People, db: AsyncDatabase[dict[str, Any]], clock: ManualClock, tmp_path: Path
) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await ann.connect()
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(os.urandom(1000))
    _, sent = await ann.send_attachment(thread_id, scan, "scan.pdf", "application/pdf")
    # Uploaded but never sent (the app crashed between the two steps).
    unsent = await ann.api.upload_attachment(thread_id, _once(b"\x01" * 100), 100)

    # The server's hourly purge job comes due, and removes the unsent upload only.
    clock.advance(timedelta(hours=24).total_seconds() + 1)
    store = AttachmentStore(db)
    deadline = asyncio.get_running_loop().time() + 30
    while await store.info(str(unsent["attachment_id"])) is not None:
        assert asyncio.get_running_loop().time() < deadline, "the purge job never ran"
        await asyncio.sleep(0.05)
    assert await store.info(sent.attachment_id) is not None


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
