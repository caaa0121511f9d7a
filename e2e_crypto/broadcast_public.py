"""Broadcast (mailings): structure and signatures (server-importable).

A mailing to thousands of patients is ONE body plus one small *slip* per device, so
the server stores the ciphertext once and each patient downloads the body and their
own slip only; no patient learns who else received the mailing::

    body   := u32 header_len | header | nonce[24] | u32 ct_len | ciphertext | signature[64]
    header := u8 version | ident campaign_id | ident client_msg_id
              | ident sender_account | ident sender_device
              | key_commitment[32] | franking_commitment[32]
    slip   := u8 version | body_digest[32] | ident account | ident device
              | encryption_key[32] | wrap[80] | signature[64]

The sender device signs the body (``BROADCAST_SIGNATURE_CONTEXT | u32 header_len |
header | digest(CIPHERTEXT_HASH_LABEL, nonce | ciphertext)``) and every slip
(``SLIP_SIGNATURE_CONTEXT | slip without its signature``), where ``body_digest =
digest(BROADCAST_BODY_LABEL, body)`` ties the slip to exactly one body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from e2e_crypto.codec import Reader, Writer, check_id
from e2e_crypto.domains import (
    BROADCAST_BODY_LABEL,
    BROADCAST_SIGNATURE_CONTEXT,
    CIPHERTEXT_HASH_LABEL,
    HASH_BYTES,
    SLIP_SIGNATURE_CONTEXT,
    digest,
)
from e2e_crypto.errors import MalformedData, VerificationFailed
from e2e_crypto.public import (
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    PublicEncryptionKey,
    PublicSigningKey,
)
from e2e_crypto.wire import AEAD_TAG_BYTES, FRANKING_KEY_BYTES, NONCE_BYTES, WRAP_BYTES

__all__ = [
    "BROADCAST_VERSION",
    "MAX_BROADCAST_BODY_BYTES",
    "MAX_BROADCAST_DEVICES",
    "BroadcastHeader",
    "ParsedBroadcast",
    "ParsedSlip",
    "parse_broadcast",
    "parse_slip",
    "verify_broadcast_signature",
    "verify_slip_signature",
]

BROADCAST_VERSION: Final = 1
MAX_BROADCAST_BODY_BYTES: Final = 256 * 1024
MAX_BROADCAST_DEVICES: Final = 100_000
_MIN_CIPHERTEXT: Final = FRANKING_KEY_BYTES + AEAD_TAG_BYTES


@dataclass(frozen=True, slots=True)
class BroadcastHeader:
    campaign_id: str
    client_msg_id: str
    sender_account: str
    sender_device: str
    key_commitment: bytes
    franking_commitment: bytes
    version: int = BROADCAST_VERSION

    def __post_init__(self) -> None:
        if self.version != BROADCAST_VERSION:
            raise MalformedData("unsupported broadcast version")
        check_id(self.campaign_id, "campaign id")
        check_id(self.client_msg_id, "client message id")
        check_id(self.sender_account, "sender account id")
        check_id(self.sender_device, "sender device id")
        if len(self.key_commitment) != HASH_BYTES or len(self.franking_commitment) != HASH_BYTES:
            raise MalformedData("commitments must be 32 bytes")

    def encode(self) -> bytes:
        return bytes(
            Writer()
            .u8(self.version)
            .ident(self.campaign_id, "campaign id")
            .ident(self.client_msg_id, "client message id")
            .ident(self.sender_account, "sender account id")
            .ident(self.sender_device, "sender device id")
            .fixed(self.key_commitment, HASH_BYTES, "key commitment")
            .fixed(self.franking_commitment, HASH_BYTES, "franking commitment")
        )


@dataclass(frozen=True, slots=True)
class ParsedBroadcast:
    header: BroadcastHeader
    header_bytes: bytes
    nonce: bytes
    ciphertext: bytes
    signature: bytes

    def signed_message(self) -> bytes:
        return bytes(
            Writer()
            .raw(BROADCAST_SIGNATURE_CONTEXT)
            .blob32(self.header_bytes)
            .raw(digest(CIPHERTEXT_HASH_LABEL, self.nonce + self.ciphertext))
        )

    def encode(self) -> bytes:
        return bytes(
            Writer()
            .blob32(self.header_bytes)
            .fixed(self.nonce, NONCE_BYTES, "nonce")
            .blob32(self.ciphertext)
            .fixed(self.signature, SIGNATURE_BYTES, "signature")
        )

    def digest(self) -> bytes:
        """The body digest every slip of this broadcast names."""
        return digest(BROADCAST_BODY_LABEL, self.encode())


def parse_broadcast(data: bytes) -> ParsedBroadcast:
    """Structural validation of a broadcast body; raises MalformedData only."""
    if not isinstance(data, bytes) or len(data) > MAX_BROADCAST_BODY_BYTES:
        raise MalformedData("broadcast body must be bytes of at most 256 KiB")
    reader = Reader(data)
    header_bytes = reader.blob32("header", MAX_BROADCAST_BODY_BYTES)
    hr = Reader(header_bytes)
    if hr.u8("version") != BROADCAST_VERSION:
        raise MalformedData("unsupported broadcast version")
    header = BroadcastHeader(
        campaign_id=hr.ident("campaign id"),
        client_msg_id=hr.ident("client message id"),
        sender_account=hr.ident("sender account id"),
        sender_device=hr.ident("sender device id"),
        key_commitment=hr.take(HASH_BYTES, "key commitment"),
        franking_commitment=hr.take(HASH_BYTES, "franking commitment"),
    )
    hr.end("broadcast header")
    nonce = reader.take(NONCE_BYTES, "nonce")
    ciphertext = reader.blob32("ciphertext", MAX_BROADCAST_BODY_BYTES)
    if len(ciphertext) < _MIN_CIPHERTEXT:
        raise MalformedData("ciphertext too short")
    signature = reader.take(SIGNATURE_BYTES, "signature")
    reader.end("broadcast body")
    return ParsedBroadcast(header, header_bytes, nonce, ciphertext, signature)


@dataclass(frozen=True, slots=True)
class ParsedSlip:
    body_digest: bytes
    account_id: str
    device_id: str
    encryption_key: PublicEncryptionKey
    wrap: bytes
    signature: bytes
    version: int = BROADCAST_VERSION

    def __post_init__(self) -> None:
        check_id(self.account_id, "account id")
        check_id(self.device_id, "device id")
        if len(self.body_digest) != HASH_BYTES or len(self.wrap) != WRAP_BYTES:
            raise MalformedData("bad slip field length")

    def signed_part(self) -> bytes:
        return bytes(
            Writer()
            .u8(self.version)
            .fixed(self.body_digest, HASH_BYTES, "body digest")
            .ident(self.account_id, "account id")
            .ident(self.device_id, "device id")
            .fixed(self.encryption_key.raw, PUBLIC_KEY_BYTES, "encryption key")
            .fixed(self.wrap, WRAP_BYTES, "wrap")
        )

    def encode(self) -> bytes:
        return self.signed_part() + self.signature


def parse_slip(data: bytes) -> ParsedSlip:
    reader = Reader(data)
    if reader.u8("slip version") != BROADCAST_VERSION:
        raise MalformedData("unsupported slip version")
    slip = ParsedSlip(
        body_digest=reader.take(HASH_BYTES, "body digest"),
        account_id=reader.ident("account id"),
        device_id=reader.ident("device id"),
        encryption_key=PublicEncryptionKey(reader.take(PUBLIC_KEY_BYTES, "encryption key")),
        wrap=reader.take(WRAP_BYTES, "wrap"),
        signature=reader.take(SIGNATURE_BYTES, "slip signature"),
    )
    reader.end("slip")
    return slip


def verify_broadcast_signature(body: ParsedBroadcast, sender_key: PublicSigningKey) -> None:
    """Raise VerificationFailed unless the sender device signed this body."""
    sender_key.verify(body.signed_message(), body.signature)


def verify_slip_signature(
    slip: ParsedSlip, sender_key: PublicSigningKey, body: ParsedBroadcast
) -> None:
    """Raise VerificationFailed unless the sender signed this slip for this body."""
    if slip.body_digest != body.digest():
        raise VerificationFailed("slip belongs to another broadcast")
    sender_key.verify(SLIP_SIGNATURE_CONTEXT + slip.signed_part(), slip.signature)
