"""Reading a GDPR export archive (docs/gdpr.md) and decrypting it on the owner's machine.

::

    ExportArchive.open(path | bytes)      the ZIP the server sent: archive.json,
      │                                   threads/*.json, attachments/*.bin
      └── decrypt(passphrase) ──► DecryptedArchive
            key backup (argon2id) → the account's device keys
            senders' certificates verified against their root keys
            (or against the roots the caller already trusts)
            every envelope verified and opened → ReceivedMessage
            attachments: decrypt_attachment(payload) with the key in the message
            mailings: the campaign's body opened with the owner's slip

Nothing here talks to the server: the archive is all it needs, so a person can read
their history years later, or after their account is erased. A message that does not
verify or decrypt becomes ``Unreadable``, as in the live client; the server's word
about who sent what is only believed as far as the signatures carry it.
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from e2e_crypto.attachments import decrypt_file
from e2e_crypto.backup import open_backup
from e2e_crypto.broadcast import open_broadcast
from e2e_crypto.broadcast_public import parse_broadcast
from e2e_crypto.client.messages import ReceivedMessage, Unreadable
from e2e_crypto.client.payloads import Attachment, Payload, ReportToGp, decode_payload
from e2e_crypto.envelope import open_message
from e2e_crypto.errors import DecryptionFailed, MalformedData, VerificationFailed
from e2e_crypto.keys import AccountKeys
from e2e_crypto.public import PublicSigningKey, VerifiedDevice, verify_device_certificate
from e2e_crypto.wire import GroupRef, Kind, from_base64url, parse_envelope

__all__ = ["ArchivedMailing", "ArchivedThread", "DecryptedArchive", "ExportArchive"]

SCHEMA = "carechat.export"
SUPPORTED_VERSIONS = frozenset({1})
_MAX_FIELD_BYTES = 1 << 30  # archive fields are whole envelopes and backups


def _bytes(text: str) -> bytes:
    return from_base64url(text, max_bytes=_MAX_FIELD_BYTES)


@dataclass(frozen=True, slots=True)
class ArchivedThread:
    thread_id: str
    kind: str
    messages: tuple[ReceivedMessage, ...]


@dataclass(frozen=True, slots=True)
class ArchivedMailing:
    """A practice's prevention mailing delivered to the owner: its text, or
    ``Unreadable`` if no slip of the owner's devices opens a verified body."""

    campaign_id: str
    practice_id: str
    delivered_at: datetime
    text: bytes | Unreadable


class ExportArchive:
    """An export archive, parsed but still encrypted."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._zip = archive
        try:
            document = json.loads(archive.read("archive.json"))
        except (KeyError, ValueError) as exc:
            raise MalformedData(f"not a CareChat export: {exc!r}") from None
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            raise MalformedData("not a CareChat export")
        if document.get("version") not in SUPPORTED_VERSIONS:
            raise MalformedData("an export version this SDK does not read")
        self.document: dict[str, Any] = document

    @classmethod
    def open(cls, source: Path | str | bytes) -> ExportArchive:
        try:
            if isinstance(source, bytes):
                return cls(zipfile.ZipFile(io.BytesIO(source)))
            return cls(zipfile.ZipFile(Path(source)))
        except zipfile.BadZipFile:
            raise MalformedData("not a ZIP archive") from None

    @property
    def account_id(self) -> str:
        return str(self.document["account_id"])

    @property
    def key_backup(self) -> bytes | None:
        backup = self.document.get("key_backup")
        return _bytes(backup["blob"]) if backup else None

    def stored_thread(self, path: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self._zip.read(path))
        return doc

    def attachment_ciphertext(self, attachment_id: str) -> bytes:
        for entry in self.document.get("attachments", []):
            if entry["attachment_id"] == attachment_id:
                return self._zip.read(entry["path"])
        raise KeyError(attachment_id)

    def decrypt(
        self, passphrase: str, *, trusted: Mapping[str, PublicSigningKey] | None = None
    ) -> DecryptedArchive:
        """Opens the key backup with ``passphrase`` (DecryptionFailed if wrong) and
        every message with the keys in it.

        ``trusted``: root keys the caller already pinned (account id -> key). A sender
        whose root key in the archive differs is not believed (its messages are
        ``Unreadable``); others are trusted on first use, as the live client does.
        """
        blob = self.key_backup
        if blob is None:
            raise MalformedData("the archive holds no key backup to decrypt with")
        keys = open_backup(blob, passphrase)
        senders = _verified_senders(self.document.get("senders", []), keys, trusted or {})
        threads = []
        for entry in self.document.get("threads", []):
            stored = self.stored_thread(entry["path"])
            grouped = entry["kind"] in _PANEL_KINDS
            messages = tuple(_open(doc, keys, senders, grouped) for doc in stored["messages"])
            threads.append(ArchivedThread(entry["thread_id"], entry["kind"], messages))
        mailings = tuple(
            _open_mailing(entry, keys, senders) for entry in self.document.get("mailings", [])
        )
        return DecryptedArchive(self, keys.account_id, tuple(threads), mailings)


@dataclass(frozen=True, slots=True)
class DecryptedArchive:
    archive: ExportArchive
    account_id: str
    threads: tuple[ArchivedThread, ...]
    mailings: tuple[ArchivedMailing, ...] = ()

    def attachment(self, payload: Attachment) -> bytes:
        """The plaintext of an attachment a message refers to, checked against the
        digest and size in that (verified) message; DecryptionFailed otherwise."""
        sealed = self.archive.attachment_ciphertext(payload.attachment_id)
        out = io.BytesIO()
        decrypt_file(io.BytesIO(sealed), out, payload.ref)
        return out.getvalue()


# A panel question or paid chat: sealed to the panel's epoch and to the patient's own
# devices, so the patient's archive opens it with their device keys. The live client
# also checks the sender against the epoch's signed member list; the archive holds no
# epoch commits, so it checks what the signed header names and the sender's
# certificate, not that the GP was on the panel at that epoch.
_PANEL_KINDS = frozenset({"panel", "paid"})


def _panel_epoch(envelope: bytes) -> GroupRef | None:
    try:
        return parse_envelope(envelope).header.group
    except MalformedData:
        return None


def _open_mailing(
    entry: Mapping[str, Any], keys: AccountKeys, senders: Mapping[tuple[str, str], VerifiedDevice]
) -> ArchivedMailing:
    campaign_id = str(entry["campaign_id"])
    text: bytes | Unreadable = Unreadable("unknown sender device")
    try:
        body = _bytes(str(entry["body"]))
        header = parse_broadcast(body).header
    except (KeyError, MalformedData):
        body, header = b"", None
        text = Unreadable("does not decrypt")
    sender = senders.get((header.sender_account, header.sender_device)) if header else None
    if sender is not None:
        text = Unreadable("does not decrypt")
        for slip, opener in itertools.product(entry.get("slips") or [], keys.devices):
            try:
                opened = open_broadcast(
                    body,
                    _bytes(str(slip)),
                    opener=opener,
                    sender=sender,
                    campaign_id=campaign_id,
                    client_msg_id=campaign_id,
                )
            except (DecryptionFailed, MalformedData):
                continue
            text = opened.body
            break
    return ArchivedMailing(
        campaign_id,
        str(entry.get("practice_id")),
        datetime.fromisoformat(str(entry["delivered_at"])),
        text,
    )


def _verified_senders(
    entries: list[dict[str, Any]], keys: AccountKeys, trusted: Mapping[str, PublicSigningKey]
) -> dict[tuple[str, str], VerifiedDevice]:
    found: dict[tuple[str, str], VerifiedDevice] = {}
    for entry in entries:
        account_id = str(entry["account_id"])
        if account_id == keys.account_id:
            root = keys.root.public_key  # one's own root: from the backup, not the server
        elif entry.get("root_key") is None:
            continue
        else:
            root = PublicSigningKey(_bytes(entry["root_key"]))
            if account_id in trusted and trusted[account_id] != root:
                continue
        try:
            device = verify_device_certificate(
                _bytes(entry["certificate"]), account_id=account_id, root_key=root
            )
        except (MalformedData, VerificationFailed):
            continue
        found[(account_id, device.device_id)] = device
    return found


def _open(
    doc: Mapping[str, Any],
    keys: AccountKeys,
    senders: Mapping[tuple[str, str], VerifiedDevice],
    grouped: bool,
) -> ReceivedMessage:
    sender_account, sender_device = str(doc["sender_account"]), str(doc["sender_device"])
    thread_id, cmid = str(doc["thread"]), str(doc["cmid"])
    payload: Payload | Unreadable = Unreadable("unknown sender device")
    sender = senders.get((sender_account, sender_device))
    if sender is not None:
        payload = Unreadable("does not decrypt")
        envelope = _bytes(doc["envelope"])
        for opener in keys.devices:
            try:
                opened = open_message(
                    envelope,
                    opener=opener,
                    sender=sender,
                    thread_id=thread_id,
                    client_msg_id=cmid,
                    group=_panel_epoch(envelope) if grouped else None,
                )
            except (DecryptionFailed, MalformedData):
                continue
            payload = decode_payload(opened.body)
            if isinstance(payload, ReportToGp) != (opened.header.kind is Kind.REPORT_TO_GP):
                payload = Unreadable("the message is not marked as what it is")
            break
    return ReceivedMessage(
        thread_id=thread_id,
        seq=int(doc["seq"]),
        sender_account=sender_account,
        sender_device=sender_device,
        client_msg_id=cmid,
        payload=payload,
        at=datetime.fromisoformat(str(doc["at"])),
        kind=str(doc.get("kind", "message")),
    )
