"""A GDPR export read back by the SDK: the archive the server streams, decrypted on the
owner's machine with the keys from their passphrase backup, gives the plaintext
history and files; nothing in it can be read without the passphrase."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e_crypto.client import (
    Attachment,
    AuthenticationError,
    ExportArchive,
    Text,
    Unreadable,
)
from e2e_crypto.errors import DecryptionFailed
from tests.sdk.conversation import care_thread, take
from tests.sdk.people import PASSPHRASE, PASSWORD, People


async def test_an_exported_history_decrypts_offline_with_the_backup_passphrase(
    people: People, tmp_path: Path
) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    await ann.backup_keys(PASSPHRASE)
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    await ann.send(thread_id, "My blood pressure readings are attached.")
    scan = tmp_path / "readings.pdf"
    scan.write_bytes(os.urandom(150_000))
    _, sent = await ann.send_attachment(thread_id, scan, "readings.pdf", "application/pdf")
    await take(doctor, 2)
    await doctor.send(thread_id, "Thank you, they look fine.")
    await take(ann, 1)

    with pytest.raises(AuthenticationError):
        await ann.export_data("not the password")
    saved = tmp_path / "export.zip"
    archive = await ann.export_data(PASSWORD, saved)
    assert archive.account_id == ann.account_id
    # What was saved is the same archive, and it opens without the server.
    await people.close()
    offline = ExportArchive.open(saved)
    with pytest.raises(DecryptionFailed):
        offline.decrypt("not the passphrase at all")
    history = offline.decrypt(PASSPHRASE)
    [thread] = history.threads
    assert thread.thread_id == thread_id
    payloads = [m.payload for m in thread.messages]
    assert not any(isinstance(p, Unreadable) for p in payloads)
    assert [p.body for p in payloads if isinstance(p, Text)] == [
        "My blood pressure readings are attached.",
        "Thank you, they look fine.",
    ]
    [attachment] = [p for p in payloads if isinstance(p, Attachment)]
    assert attachment == sent
    assert history.attachment(attachment) == scan.read_bytes()
    assert [m.sender_account for m in thread.messages] == [
        ann.account_id,
        ann.account_id,
        doctor.account_id,
    ]
