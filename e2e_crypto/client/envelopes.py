"""Sealing a payload for a thread's devices, and opening what arrives.

Sealing encrypts to the *verified* active devices of every participant, this
account's own included (its other devices read what it sends), which is exactly
the list the server checks. Opening verifies the sender's device through the
Directory, then tries this device's key and, after a restore from backup, the
former devices' keys (history was wrapped to those).

Opening never raises for a bad message: the app gets a ``ReceivedMessage`` whose
payload is ``Unreadable(reason)``, so one forged or damaged message cannot stop a
conversation from loading, and nothing unverified is ever shown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from e2e_crypto.client.directory import Directory
from e2e_crypto.client.errors import (
    NotFoundError,
    RootKeyChanged,
    TrustError,
    UnreadableMessage,
)
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.client.messages import ReceivedMessage, SealedMessage, Unreadable
from e2e_crypto.client.payloads import Payload, ReportToGp, decode_payload
from e2e_crypto.envelope import OpenedMessage, open_message, seal_message
from e2e_crypto.errors import DecryptionFailed, MalformedData
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import Kind


def public_kind(payload: Payload) -> Kind:
    """The envelope header's public kind for ``payload`` (the server sees only this)."""
    return Kind.REPORT_TO_GP if isinstance(payload, ReportToGp) else Kind.MESSAGE


__all__ = ["Envelopes"]

log = logging.getLogger(__name__)


class Envelopes:
    def __init__(self, keystore: Keystore, directory: Directory) -> None:
        self._keystore = keystore
        self._directory = directory

    async def recipients(
        self, participants: Iterable[str], *, refresh: bool = False
    ) -> list[VerifiedDevice]:
        """Every active device of ``participants`` and of this account, verified."""
        accounts = list(dict.fromkeys([self._keystore.account_id, *participants]))
        devices: list[VerifiedDevice] = []
        for account_id in accounts:
            devices += await self._directory.devices(account_id, refresh=refresh)
        return devices

    async def seal(
        self,
        thread_id: str,
        client_msg_id: str,
        body: bytes,
        participants: Iterable[str],
        *,
        refresh: bool = False,
    ) -> bytes:
        """The envelope of ``body`` for the thread's current devices.

        Raises RootKeyChanged/UntrustedDirectory (nothing is sent to an unverified
        key) and MalformedData if the message is too large for one envelope.
        """
        to = await self.recipients(participants, refresh=refresh)
        return seal_message(
            self._keystore.device,
            thread_id=thread_id,
            client_msg_id=client_msg_id,
            body=body,
            to_devices=to,
            kind=public_kind(decode_payload(body)),
        )

    async def open(self, sealed: SealedMessage) -> ReceivedMessage:
        payload: Payload | Unreadable
        try:
            opened = await self._open(sealed)
            payload = decode_payload(opened.body)
            if isinstance(payload, ReportToGp) != (opened.header.kind is Kind.REPORT_TO_GP):
                # A report to the GP travels marked as one in the signed header (the
                # server checks the patient's consent on that mark); unmarked, it is
                # never shown.
                payload = Unreadable("the message is not marked as what it is")
        except RootKeyChanged:
            payload = Unreadable("sender's root key changed")
        except TrustError:
            payload = Unreadable("sender's device list does not verify")
        except NotFoundError:
            payload = Unreadable("unknown sender device")
        except UnreadableMessage:
            payload = Unreadable("does not decrypt")
        if isinstance(payload, Unreadable):
            log.warning(
                "unreadable message",
                extra={"fields": {"thread": sealed.thread_id, "seq": sealed.seq}},
            )
        return ReceivedMessage(
            thread_id=sealed.thread_id,
            seq=sealed.seq,
            sender_account=sealed.sender_account,
            sender_device=sealed.sender_device,
            client_msg_id=sealed.client_msg_id,
            payload=payload,
            at=sealed.at,
            kind=sealed.kind,
        )

    async def open_body(self, sealed: SealedMessage) -> bytes:
        """The verified plaintext body; raises UnreadableMessage or a TrustError."""
        return (await self._open(sealed)).body

    async def reveal(self, sealed: SealedMessage) -> tuple[bytes, bytes]:
        """The verified body and its franking key: what an abuse report reveals."""
        opened = await self._open(sealed)
        return opened.body, opened.franking_key

    async def _open(self, sealed: SealedMessage) -> OpenedMessage:
        sender = await self._directory.device(sealed.sender_account, sealed.sender_device)
        for opener in self._keystore.openers():
            try:
                opened = open_message(
                    sealed.envelope,
                    opener=opener,
                    sender=sender,
                    thread_id=sealed.thread_id,
                    client_msg_id=sealed.client_msg_id,
                )
            except (DecryptionFailed, MalformedData):
                continue
            return opened
        raise UnreadableMessage("the message does not verify or decrypt on this device")
