"""Seal and open mailings: one ciphertext, one slip per device (client-only).

The body is encrypted and signed once; the per-device cost is one
``crypto_box_seal`` and one Ed25519 signature, about 0.1 ms. See broadcast_public
for the format and the reason for slips (no patient sees the other recipients).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions

from e2e_crypto._randomness import SYSTEM, Randomness
from e2e_crypto.broadcast_public import (
    MAX_BROADCAST_BODY_BYTES,
    MAX_BROADCAST_DEVICES,
    BroadcastHeader,
    ParsedBroadcast,
    ParsedSlip,
    parse_broadcast,
    parse_slip,
    verify_broadcast_signature,
    verify_slip_signature,
)
from e2e_crypto.domains import KEY_COMMITMENT_PERSON, SLIP_SIGNATURE_CONTEXT, derive
from e2e_crypto.errors import CryptoError, DecryptionFailed, MalformedData
from e2e_crypto.franking import FrankingKind, franking_commitment
from e2e_crypto.keys import SECRET_BYTES, DeviceKeys
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import FRANKING_KEY_BYTES, NONCE_BYTES

__all__ = ["OpenedBroadcast", "SealedBroadcast", "open_broadcast", "seal_broadcast"]


@dataclass(frozen=True, slots=True)
class SealedBroadcast:
    """The body (stored once) and one slip per device, keyed by (account, device)."""

    body: bytes
    slips: dict[tuple[str, str], bytes] = field(repr=False)


@dataclass(frozen=True, slots=True)
class OpenedBroadcast:
    header: BroadcastHeader
    body: bytes = field(repr=False)
    franking_key: bytes = field(repr=False)


def seal_broadcast(
    sender: DeviceKeys,
    *,
    campaign_id: str,
    client_msg_id: str,
    body: bytes,
    to_devices: Sequence[VerifiedDevice],
) -> SealedBroadcast:
    """Encrypt ``body`` once and wrap its key for each device in ``to_devices``."""
    return _seal_broadcast(sender, campaign_id, client_msg_id, body, to_devices, SYSTEM)


def _seal_broadcast(
    sender: DeviceKeys,
    campaign_id: str,
    client_msg_id: str,
    body: bytes,
    to_devices: Sequence[VerifiedDevice],
    rng: Randomness,
) -> SealedBroadcast:
    if not 1 <= len(to_devices) <= MAX_BROADCAST_DEVICES:
        raise MalformedData(f"a broadcast goes to 1..{MAX_BROADCAST_DEVICES} devices")
    content_key = rng.random_bytes(SECRET_BYTES)
    franking_key = rng.random_bytes(FRANKING_KEY_BYTES)
    nonce = rng.random_bytes(NONCE_BYTES)
    header = BroadcastHeader(
        campaign_id=campaign_id,
        client_msg_id=client_msg_id,
        sender_account=sender.account_id,
        sender_device=sender.device_id,
        key_commitment=derive(content_key, KEY_COMMITMENT_PERSON),
        franking_commitment=franking_commitment(
            franking_key,
            body,
            kind=FrankingKind.BROADCAST,
            thread_id=campaign_id,
            client_msg_id=client_msg_id,
            sender_account=sender.account_id,
            sender_device=sender.device_id,
        ),
    )
    header_bytes = header.encode()
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        franking_key + body, header_bytes, nonce, content_key
    )
    unsigned = ParsedBroadcast(header, header_bytes, nonce, ciphertext, bytes(64))
    signature = sender._sign(unsigned.signed_message())
    parsed = ParsedBroadcast(header, header_bytes, nonce, ciphertext, signature)
    encoded = parsed.encode()
    if len(encoded) > MAX_BROADCAST_BODY_BYTES:
        raise MalformedData("broadcast body too large")
    body_digest = parsed.digest()
    slips: dict[tuple[str, str], bytes] = {}
    for device in to_devices:
        slot = (device.account_id, device.device_id)
        if slot in slips:
            raise MalformedData("duplicate broadcast recipient")
        slip = ParsedSlip(
            body_digest=body_digest,
            account_id=device.account_id,
            device_id=device.device_id,
            encryption_key=device.encryption_key,
            wrap=rng.seal(content_key, device.encryption_key.raw),
            signature=bytes(64),
        )
        signed_part = slip.signed_part()
        slips[slot] = signed_part + sender._sign(SLIP_SIGNATURE_CONTEXT + signed_part)
    return SealedBroadcast(body=encoded, slips=slips)


def open_broadcast(
    body: bytes,
    slip: bytes,
    *,
    opener: DeviceKeys,
    sender: VerifiedDevice,
    campaign_id: str,
    client_msg_id: str,
) -> OpenedBroadcast:
    """Verify and decrypt a mailing with this device's slip; DecryptionFailed on any failure."""
    try:
        parsed = parse_broadcast(body)
        header = parsed.header
        expected = (campaign_id, client_msg_id, sender.account_id, sender.device_id)
        actual = (
            header.campaign_id,
            header.client_msg_id,
            header.sender_account,
            header.sender_device,
        )
        if expected != actual:
            raise DecryptionFailed
        verify_broadcast_signature(parsed, sender.signing_key)
        own = parse_slip(slip)
        verify_slip_signature(own, sender.signing_key, parsed)
        if (own.account_id, own.device_id, own.encryption_key) != (
            opener.account_id,
            opener.device_id,
            opener.encryption_key,
        ):
            raise DecryptionFailed
        content_key = opener._unseal(own.wrap)
        if len(content_key) != SECRET_BYTES or not hmac.compare_digest(
            derive(content_key, KEY_COMMITMENT_PERSON), header.key_commitment
        ):
            raise DecryptionFailed
        payload: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            parsed.ciphertext, parsed.header_bytes, parsed.nonce, content_key
        )
        franking_key, text = payload[:FRANKING_KEY_BYTES], payload[FRANKING_KEY_BYTES:]
        recomputed = franking_commitment(
            franking_key,
            text,
            kind=FrankingKind.BROADCAST,
            thread_id=campaign_id,
            client_msg_id=client_msg_id,
            sender_account=sender.account_id,
            sender_device=sender.device_id,
        )
        if not hmac.compare_digest(recomputed, header.franking_commitment):
            raise DecryptionFailed
    except (CryptoError, nacl.exceptions.CryptoError, ValueError):
        raise DecryptionFailed from None
    return OpenedBroadcast(header=header, body=text, franking_key=franking_key)
