"""Public keys, signature checks and device certificates (server-importable).

An account has one long-term Ed25519 *root* key. Each of its devices has an X25519
key (others encrypt to it) and an Ed25519 key (it signs what it sends). The root key
signs a *device certificate* binding both device keys to (account id, device id).

Clients encrypt only to a ``VerifiedDevice``, and the only way to obtain one is
``verify_device_certificate`` with the root key the client trusts, so "encrypt to an
unverified key" is not expressible. The server verifies the same certificates when a
device registers; it never sees a private key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import nacl.exceptions
import nacl.signing

from e2e_crypto.codec import Reader, Writer, check_id
from e2e_crypto.domains import DEVICE_CERTIFICATE_CONTEXT
from e2e_crypto.errors import MalformedData, VerificationFailed

__all__ = [
    "CERTIFICATE_VERSION",
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "DeviceCertificate",
    "PublicEncryptionKey",
    "PublicSigningKey",
    "VerifiedDevice",
    "device_certificate_message",
    "parse_device_certificate",
    "verify_device_certificate",
]

PUBLIC_KEY_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64
CERTIFICATE_VERSION: Final = 1


def _check_key(raw: object, what: str) -> None:
    if not isinstance(raw, bytes) or len(raw) != PUBLIC_KEY_BYTES:
        raise MalformedData(f"{what} must be {PUBLIC_KEY_BYTES} bytes")
    # The all-zero point is the one low-order key a typo or a zeroed buffer produces.
    if raw == bytes(PUBLIC_KEY_BYTES):
        raise MalformedData(f"{what} must not be all zeros")


@dataclass(frozen=True, slots=True)
class PublicSigningKey:
    """An Ed25519 public key (account root key or device signing key)."""

    raw: bytes

    def __post_init__(self) -> None:
        _check_key(self.raw, "Ed25519 public key")

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise VerificationFailed unless ``signature`` is valid for ``message``."""
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
            raise VerificationFailed("signature must be 64 bytes")
        try:
            nacl.signing.VerifyKey(self.raw).verify(message, signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
            raise VerificationFailed("bad signature") from None


@dataclass(frozen=True, slots=True)
class PublicEncryptionKey:
    """An X25519 public key (device encryption key or group epoch key)."""

    raw: bytes

    def __post_init__(self) -> None:
        _check_key(self.raw, "X25519 public key")


def device_certificate_message(
    account_id: str,
    device_id: str,
    encryption_key: PublicEncryptionKey,
    signing_key: PublicSigningKey,
) -> bytes:
    """The exact bytes an account root key signs to certify a device."""
    return bytes(
        Writer()
        .raw(DEVICE_CERTIFICATE_CONTEXT)
        .u8(CERTIFICATE_VERSION)
        .ident(account_id, "account id")
        .ident(device_id, "device id")
        .fixed(encryption_key.raw, PUBLIC_KEY_BYTES, "encryption key")
        .fixed(signing_key.raw, PUBLIC_KEY_BYTES, "signing key")
    )


@dataclass(frozen=True, slots=True)
class DeviceCertificate:
    """A device's keys and the root-key signature over them, not yet verified."""

    account_id: str
    device_id: str
    encryption_key: PublicEncryptionKey
    signing_key: PublicSigningKey
    signature: bytes

    def __post_init__(self) -> None:
        check_id(self.account_id, "account id")
        check_id(self.device_id, "device id")
        if len(self.signature) != SIGNATURE_BYTES:
            raise MalformedData("certificate signature must be 64 bytes")

    def signed_message(self) -> bytes:
        return device_certificate_message(
            self.account_id, self.device_id, self.encryption_key, self.signing_key
        )

    def encode(self) -> bytes:
        return bytes(
            Writer()
            .u8(CERTIFICATE_VERSION)
            .ident(self.account_id, "account id")
            .ident(self.device_id, "device id")
            .fixed(self.encryption_key.raw, PUBLIC_KEY_BYTES, "encryption key")
            .fixed(self.signing_key.raw, PUBLIC_KEY_BYTES, "signing key")
            .fixed(self.signature, SIGNATURE_BYTES, "signature")
        )


def parse_device_certificate(data: bytes) -> DeviceCertificate:
    """Decode ``DeviceCertificate.encode()`` output; raises MalformedData."""
    reader = Reader(data)
    if reader.u8("certificate version") != CERTIFICATE_VERSION:
        raise MalformedData("unsupported certificate version")
    cert = DeviceCertificate(
        account_id=reader.ident("account id"),
        device_id=reader.ident("device id"),
        encryption_key=PublicEncryptionKey(reader.take(PUBLIC_KEY_BYTES, "encryption key")),
        signing_key=PublicSigningKey(reader.take(PUBLIC_KEY_BYTES, "signing key")),
        signature=reader.take(SIGNATURE_BYTES, "certificate signature"),
    )
    reader.end("device certificate")
    return cert


# Only verify_device_certificate holds this, so a VerifiedDevice cannot be built by
# hand around keys nobody checked.
_VERIFIED: Final = object()


@dataclass(frozen=True, slots=True)
class VerifiedDevice:
    """A device whose certificate chains to a root key the caller trusts."""

    account_id: str
    device_id: str
    encryption_key: PublicEncryptionKey
    signing_key: PublicSigningKey
    _proof: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._proof is not _VERIFIED:
            raise TypeError("obtain a VerifiedDevice from verify_device_certificate()")


def verify_device_certificate(
    certificate: DeviceCertificate | bytes,
    *,
    account_id: str,
    root_key: PublicSigningKey,
) -> VerifiedDevice:
    """Check the certificate belongs to ``account_id`` and is signed by ``root_key``.

    Raises MalformedData if it does not parse, VerificationFailed otherwise.
    """
    cert = parse_device_certificate(certificate) if isinstance(certificate, bytes) else certificate
    check_id(account_id, "account id")
    if cert.account_id != account_id:
        raise VerificationFailed("certificate is for another account")
    root_key.verify(cert.signed_message(), cert.signature)
    return VerifiedDevice(
        account_id=cert.account_id,
        device_id=cert.device_id,
        encryption_key=cert.encryption_key,
        signing_key=cert.signing_key,
        _proof=_VERIFIED,
    )
