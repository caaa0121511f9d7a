"""Seal and open chat envelopes (client-only: this is the decrypting half).

Sealing (see docs/protocol.md, "Envelope"):

1. fresh content key K, franking key fk and nonce, all from the library;
2. header with key commitment ``derive(K, "cc1-key-commit")`` and franking
   commitment (franking.py);
3. ciphertext = XChaCha20-Poly1305-IETF(K, nonce, fk | body, AAD = header);
4. one ``crypto_box_seal(K)`` wrap per recipient (devices and group epoch keys);
5. the sender device signs header + digests of nonce|ciphertext and of the wraps.

Opening checks, before any plaintext is returned: the header matches what the caller
expects (thread, client message id, sender device, group epoch); the sender device's
signature; that the opener is a listed recipient; the unwrapped K against the key
commitment (so every recipient reads the same plaintext, which AEAD alone does not
guarantee); AEAD decryption; and the franking commitment (so a recipient knows
an abuse report of this message would verify). Every failure is DecryptionFailed.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions

from e2e_crypto._randomness import SYSTEM, Randomness
from e2e_crypto.domains import KEY_COMMITMENT_PERSON, derive
from e2e_crypto.errors import CryptoError, DecryptionFailed, MalformedData
from e2e_crypto.franking import FrankingKind, franking_commitment
from e2e_crypto.groups import GroupEpochKey
from e2e_crypto.groups_public import EpochCommit
from e2e_crypto.keys import SECRET_BYTES, DeviceKeys
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import (
    FRANKING_KEY_BYTES,
    MAX_ENVELOPE_BYTES,
    NONCE_BYTES,
    DeviceRecipient,
    EpochRecipient,
    GroupRef,
    Header,
    Kind,
    ParsedEnvelope,
    Recipient,
    parse_envelope,
    verify_envelope_signature,
)

__all__ = ["OpenedMessage", "open_message", "seal_message"]


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    """A verified, decrypted message."""

    header: Header
    body: bytes = field(repr=False)
    franking_key: bytes = field(repr=False)


def seal_message(
    sender: DeviceKeys,
    *,
    thread_id: str,
    client_msg_id: str,
    body: bytes,
    to_devices: Sequence[VerifiedDevice],
    to_epochs: Sequence[EpochCommit] = (),
    group: GroupRef | None = None,
    kind: Kind = Kind.MESSAGE,
) -> bytes:
    """Encrypt ``body`` for the given devices and group epochs; returns the envelope.

    Include the sender's own other devices in ``to_devices`` if they should read it.
    Raises MalformedData if an argument is invalid or the envelope would exceed
    MAX_ENVELOPE_BYTES.
    """
    recipients: list[Recipient] = [
        DeviceRecipient(d.account_id, d.device_id, d.encryption_key) for d in to_devices
    ]
    recipients += [c.recipient for c in to_epochs]
    return _seal_message(
        sender, thread_id, client_msg_id, body, tuple(recipients), group, kind, SYSTEM
    )


def _seal_message(
    sender: DeviceKeys,
    thread_id: str,
    client_msg_id: str,
    body: bytes,
    recipients: tuple[Recipient, ...],
    group: GroupRef | None,
    kind: Kind,
    rng: Randomness,
) -> bytes:
    if not isinstance(body, bytes):
        raise MalformedData("body must be bytes")
    content_key = rng.random_bytes(SECRET_BYTES)
    franking_key = rng.random_bytes(FRANKING_KEY_BYTES)
    nonce = rng.random_bytes(NONCE_BYTES)
    header = Header(
        kind=kind,
        thread_id=thread_id,
        client_msg_id=client_msg_id,
        sender_account=sender.account_id,
        sender_device=sender.device_id,
        group=group,
        recipients=recipients,
        key_commitment=derive(content_key, KEY_COMMITMENT_PERSON),
        franking_commitment=franking_commitment(
            franking_key,
            body,
            kind=FrankingKind.MESSAGE,
            thread_id=thread_id,
            client_msg_id=client_msg_id,
            sender_account=sender.account_id,
            sender_device=sender.device_id,
        ),
    )
    header_bytes = header.encode()
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        franking_key + body, header_bytes, nonce, content_key
    )
    wraps = tuple(rng.seal(content_key, r.key.raw) for r in recipients)
    unsigned = ParsedEnvelope(header, header_bytes, nonce, ciphertext, wraps, bytes(64))
    signed = ParsedEnvelope(
        header, header_bytes, nonce, ciphertext, wraps, sender._sign(unsigned.signed_message())
    )
    encoded = signed.encode()
    if len(encoded) > MAX_ENVELOPE_BYTES:
        raise MalformedData("message too large for one envelope; send it as an attachment")
    return encoded


def _recipient_index(header: Header, opener: DeviceKeys | GroupEpochKey) -> int:
    wanted: Recipient
    if isinstance(opener, DeviceKeys):
        wanted = DeviceRecipient(opener.account_id, opener.device_id, opener.encryption_key)
    else:
        wanted = EpochRecipient(opener.group_id, opener.epoch, opener.public_key)
    # Exact match of ids AND key: a wrap for a replaced key of the same device
    # must not be tried with the new one.
    for index, r in enumerate(header.recipients):
        if r == wanted:
            return index
    raise DecryptionFailed


def open_message(
    envelope: bytes,
    *,
    opener: DeviceKeys | GroupEpochKey,
    sender: VerifiedDevice,
    thread_id: str,
    client_msg_id: str,
    group: GroupRef | None = None,
) -> OpenedMessage:
    """Verify and decrypt ``envelope``; raises DecryptionFailed on any failure.

    ``thread_id``, ``client_msg_id`` and ``group`` are what the caller expects (from
    the thread it is reading and the server's frame), ``sender`` the device the
    server says sent it, verified against the sender's trusted root key.
    """
    try:
        parsed = parse_envelope(envelope, max_bytes=MAX_ENVELOPE_BYTES)
        header = parsed.header
        expected = (thread_id, client_msg_id, sender.account_id, sender.device_id, group)
        actual = (
            header.thread_id,
            header.client_msg_id,
            header.sender_account,
            header.sender_device,
            header.group,
        )
        if expected != actual:
            raise DecryptionFailed
        verify_envelope_signature(parsed, sender.signing_key)
        content_key = opener._unseal(parsed.wraps[_recipient_index(header, opener)])
        if len(content_key) != SECRET_BYTES or not hmac.compare_digest(
            derive(content_key, KEY_COMMITMENT_PERSON), header.key_commitment
        ):
            raise DecryptionFailed
        payload: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            parsed.ciphertext, parsed.header_bytes, parsed.nonce, content_key
        )
        franking_key, body = payload[:FRANKING_KEY_BYTES], payload[FRANKING_KEY_BYTES:]
        recomputed = franking_commitment(
            franking_key,
            body,
            kind=FrankingKind.MESSAGE,
            thread_id=header.thread_id,
            client_msg_id=header.client_msg_id,
            sender_account=header.sender_account,
            sender_device=header.sender_device,
        )
        if not hmac.compare_digest(recomputed, header.franking_commitment):
            raise DecryptionFailed
    except (CryptoError, nacl.exceptions.CryptoError, ValueError):
        # One class, one message: which check failed is nobody's business.
        raise DecryptionFailed from None
    return OpenedMessage(header=header, body=body, franking_key=franking_key)
