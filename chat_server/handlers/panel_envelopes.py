"""The checks an envelope of a panel question passes before it is stored.

A panel question and every message in it are wrapped to the patient's devices and to
the panel's *current* epoch key, so any current GP can read it and a removed one
cannot read anything after their removal. The server checks, without reading it:
the envelope parses; its header names this question, this client message id and the
sending device; the group rules (``e2e_crypto.groups_public.check_group_envelope``):
the header names the panel's current epoch, whose key is its one epoch recipient, and
the sender is a member device of that epoch or the question's patient; its device
recipients are exactly the patient's active devices; the sender's signature verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat_server.errors import (
    DeviceRevoked,
    InvalidEnvelope,
    RecipientsChanged,
    SenderNotInEpoch,
    StaleGroupEpoch,
)
from chat_server.handlers.directory import DeviceDirectory
from chat_server.principal import Principal
from e2e_crypto.errors import CryptoError, VerificationFailed
from e2e_crypto.groups_public import EpochCommit, StaleEpoch, check_group_envelope
from e2e_crypto.groups_public import SenderNotInEpoch as NotInEpoch
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.wire import Header, from_base64url, parse_envelope, verify_envelope_signature


@dataclass(frozen=True, slots=True)
class CheckedEnvelope:
    envelope: bytes
    header: Header


class PanelEnvelopes:
    def __init__(self, directory: DeviceDirectory) -> None:
        self._directory = directory

    async def check(
        self,
        who: Principal,
        *,
        question_id: str,
        patient_id: str,
        epoch: EpochCommit,
        client_msg_id: str,
        envelope_text: str,
    ) -> CheckedEnvelope:
        try:
            envelope = from_base64url(envelope_text)
            parsed = parse_envelope(envelope)
        except CryptoError:
            raise InvalidEnvelope("the envelope does not parse") from None
        header = parsed.header
        if (
            header.thread_id != question_id
            or header.client_msg_id != client_msg_id
            or header.sender_account != who.account_id
            # Over HTTP a session names no device: the header does, and the device's
            # signature below must then verify.
            or (who.device_id is not None and header.sender_device != who.device_id)
        ):
            raise InvalidEnvelope("the envelope header does not match this send")
        try:
            check_group_envelope(header, epoch, outsiders=frozenset({patient_id}))
        except StaleEpoch:
            raise StaleGroupEpoch() from None
        except NotInEpoch:
            raise SenderNotInEpoch() from None
        except VerificationFailed:
            raise InvalidEnvelope(
                "the envelope's group or epoch recipient is not the panel's"
            ) from None
        offered = {
            (r.account_id, r.device_id, r.encryption_key.raw) for r in header.device_recipients()
        }
        current = await self._directory.devices_of([patient_id])
        if offered != current:
            current = await self._directory.devices_of([patient_id], fresh=True)
            if offered != current:
                raise RecipientsChanged(
                    "encrypt to the patient's active devices and the panel's epoch",
                    devices=sorted({(a, d) for a, d, _ in current}),
                )
        sender = await self._directory.device(who.account_id, header.sender_device)
        if sender is None:
            raise DeviceRevoked()
        try:
            verify_envelope_signature(parsed, PublicSigningKey(sender.sign_key_raw))
        except CryptoError:
            raise InvalidEnvelope("the envelope signature does not verify") from None
        return CheckedEnvelope(envelope, header)
