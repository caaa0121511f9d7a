"""A GDPR export read back by the SDK: the archive the server streams, decrypted on the
owner's machine with the keys from their passphrase backup, gives the plaintext
history and files; nothing in it can be read without the passphrase."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.settings import Settings
from e2e_crypto.client import (
    Attachment,
    AuthenticationError,
    ExportArchive,
    Text,
    Unreadable,
)
from e2e_crypto.client.errors import NotFoundError
from e2e_crypto.client.payloads import PanelQuestion
from e2e_crypto.client.triage import Intake
from e2e_crypto.errors import DecryptionFailed
from tests.sdk.conversation import care_thread, take
from tests.sdk.people import PASSPHRASE, PASSWORD, People
from tests.sdk.test_panel import _panel


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


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The erasure job runs within the test (its runner polls), a month later: the
    # doctor still logs in without the two-factor setup that is due by then.
    return replace(settings, jobs_poll_seconds=0.05, practitioner_totp_grace_days=60)


async def _erased(db: AsyncDatabase[dict[str, Any]], account_id: str) -> None:
    async with asyncio.timeout(20):
        while True:
            if not await db["accounts"].count_documents({"_id": account_id}):
                return
            await asyncio.sleep(0.05)


async def test_after_erasure_the_other_party_still_verifies_the_erased_persons_messages(
    people: People, db: AsyncDatabase[dict[str, Any]], clock: ManualClock
) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    await doctor.backup_keys(PASSPHRASE)
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    eve = await people.join("eve@example.org", "patient", "eve-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    await ann.send(thread_id, "The rash is spreading.")
    await take(doctor, 1)
    await doctor.send(thread_id, "Come in tomorrow at nine.")
    await take(ann, 1)
    await ann.request_erasure(PASSWORD)
    clock.advance(timedelta(days=31).total_seconds())
    await _erased(db, ann.account_id)
    assert await db["devices"].count_documents({"account_id": ann.account_id}) == 0

    # The doctor's medical record still opens and verifies: on the device that had
    # pinned Ann's root key, and on a new one that pins it from the kept keys.
    await doctor.login("doc@example.org", PASSWORD)  # the session idled out meanwhile
    doctor.directory.forget()
    laptop = await people.another_device("doc@example.org", "doc-laptop")
    for reader in (doctor, laptop):
        history = [m async for m in reader.history(thread_id)]
        assert [m.sender_account for m in history] == [ann.account_id, doctor.account_id]
        assert [m.payload for m in history] == [
            Text("The rash is spreading."),
            Text("Come in tomorrow at nine."),
        ]
    # Nothing to encrypt to, and nobody outside the thread learns the keys were kept.
    listing = await doctor.api.account_devices(ann.account_id)
    assert listing["devices"] == []
    assert listing["root_key"] is not None
    await eve.login("eve@example.org", PASSWORD)
    for lookup in (eve.api.account_devices, eve.api.key_log):
        with pytest.raises(NotFoundError) as kept:
            await lookup(ann.account_id)
        with pytest.raises(NotFoundError) as unknown:
            await lookup("A" * 22)
        assert (kept.value.status, kept.value.code) == (unknown.value.status, unknown.value.code)


async def test_the_archive_opens_the_patients_own_panel_questions(
    people: People, db: AsyncDatabase[dict[str, Any]], clock: ManualClock
) -> None:
    _, dr_b, ann = await _panel(people, db, clock)
    await ann.backup_keys(PASSPHRASE)
    intake = Intake("16_64", "fever", "2_3_days", ("diabetes",), "38.5 since Tuesday")
    qid = (await ann.panel.ask("covid", intake)).question_id
    assert qid is not None
    await dr_b.panel.online("covid")
    await dr_b.panel.claim("covid")
    await dr_b.panel.reply(qid, Text("Rest and fluids."), answer=True)

    history = (await ann.export_data(PASSWORD)).decrypt(PASSPHRASE)
    [thread] = history.threads
    assert (thread.thread_id, thread.kind) == (qid, "panel")
    assert [m.payload for m in thread.messages] == [
        PanelQuestion("16_64", "fever", "2_3_days", ("diabetes",), "38.5 since Tuesday", 1),
        Text("Rest and fluids."),
    ]
    assert [m.sender_account for m in thread.messages] == [ann.account_id, dr_b.account_id]
