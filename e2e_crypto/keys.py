"""Private keys of an account and its devices (client-only).

``RootKey`` (Ed25519) is the account's identity: it certifies devices and, for group
admins, signs epoch commits. ``DeviceKeys`` holds one device's X25519 secret (to
unwrap content keys) and Ed25519 seed (to sign what it sends). ``AccountKeys``
bundles them for backup. Key objects never print their secrets, validate lengths on
construction, and expose signing and unwrapping only to this package (underscore
methods), so application code cannot sign arbitrary bytes with a device key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import nacl.bindings

from e2e_crypto._randomness import SYSTEM, Randomness
from e2e_crypto.codec import check_id
from e2e_crypto.errors import MalformedData
from e2e_crypto.public import (
    DeviceCertificate,
    PublicEncryptionKey,
    PublicSigningKey,
    VerifiedDevice,
    device_certificate_message,
    verify_device_certificate,
)

__all__ = ["SECRET_BYTES", "AccountKeys", "DeviceKeys", "RootKey"]

SECRET_BYTES: Final = 32


def _check_secret(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != SECRET_BYTES:
        raise MalformedData(f"{what} must be {SECRET_BYTES} bytes")
    return value


def _expand(seed: bytes) -> tuple[bytes, bytes]:
    """(public key, 64-byte libsodium secret key) of an Ed25519 seed."""
    public, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
    return bytes(public), bytes(secret)


def _sign(secret: bytes, message: bytes) -> bytes:
    # Signing with the expanded key kept on the object halves the cost of
    # rebuilding a SigningKey per call, which dominates broadcast sealing.
    signed: bytes = nacl.bindings.crypto_sign(message, secret)
    return signed[:64]


@dataclass(frozen=True, slots=True, repr=False)
class RootKey:
    """An account's Ed25519 root key. ``seed`` is the 32-byte Ed25519 seed."""

    seed: bytes
    public_key: PublicSigningKey = field(init=False, compare=False)
    _expanded: bytes = field(init=False, compare=False)

    def __post_init__(self) -> None:
        _check_secret(self.seed, "root key seed")
        public, expanded = _expand(self.seed)
        object.__setattr__(self, "public_key", PublicSigningKey(public))
        object.__setattr__(self, "_expanded", expanded)

    @classmethod
    def generate(cls) -> RootKey:
        return cls._generate(SYSTEM)

    @classmethod
    def _generate(cls, rng: Randomness) -> RootKey:
        return cls(rng.random_bytes(SECRET_BYTES))

    def certify(self, device: DeviceKeys) -> DeviceCertificate:
        """Sign ``device``'s public keys as belonging to this account."""
        message = device_certificate_message(
            device.account_id, device.device_id, device.encryption_key, device.signing_key
        )
        return DeviceCertificate(
            account_id=device.account_id,
            device_id=device.device_id,
            encryption_key=device.encryption_key,
            signing_key=device.signing_key,
            signature=_sign(self._expanded, message),
        )

    def _sign(self, message: bytes) -> bytes:
        return _sign(self._expanded, message)

    def __repr__(self) -> str:
        return f"RootKey(public={self.public_key.raw.hex()[:16]}..., seed=<hidden>)"


@dataclass(frozen=True, slots=True, repr=False)
class DeviceKeys:
    """One device's private keys: X25519 ``encryption_secret``, Ed25519 ``signing_seed``."""

    account_id: str
    device_id: str
    encryption_secret: bytes
    signing_seed: bytes
    encryption_key: PublicEncryptionKey = field(init=False, compare=False)
    signing_key: PublicSigningKey = field(init=False, compare=False)
    _expanded: bytes = field(init=False, compare=False)

    def __post_init__(self) -> None:
        check_id(self.account_id, "account id")
        check_id(self.device_id, "device id")
        _check_secret(self.encryption_secret, "device encryption secret")
        _check_secret(self.signing_seed, "device signing seed")
        public = nacl.bindings.crypto_scalarmult_base(self.encryption_secret)
        object.__setattr__(self, "encryption_key", PublicEncryptionKey(bytes(public)))
        public, expanded = _expand(self.signing_seed)
        object.__setattr__(self, "signing_key", PublicSigningKey(public))
        object.__setattr__(self, "_expanded", expanded)

    @classmethod
    def generate(cls, account_id: str, device_id: str) -> DeviceKeys:
        return cls._generate(account_id, device_id, SYSTEM)

    @classmethod
    def _generate(cls, account_id: str, device_id: str, rng: Randomness) -> DeviceKeys:
        return cls(
            account_id, device_id, rng.random_bytes(SECRET_BYTES), rng.random_bytes(SECRET_BYTES)
        )

    def verified(
        self, certificate: DeviceCertificate, root_key: PublicSigningKey
    ) -> VerifiedDevice:
        """This device as others see it, after checking its own certificate."""
        if (
            certificate.encryption_key != self.encryption_key
            or certificate.signing_key != self.signing_key
        ):
            raise MalformedData("certificate is for other keys")
        return verify_device_certificate(certificate, account_id=self.account_id, root_key=root_key)

    def _sign(self, message: bytes) -> bytes:
        return _sign(self._expanded, message)

    def _unseal(self, wrap: bytes) -> bytes:
        """crypto_box_seal_open with this device's key; raises nacl's CryptoError."""
        opened: bytes = nacl.bindings.crypto_box_seal_open(
            wrap, self.encryption_key.raw, self.encryption_secret
        )
        return opened

    def __repr__(self) -> str:
        return (
            f"DeviceKeys(account_id={self.account_id!r}, device_id={self.device_id!r}, "
            "secrets=<hidden>)"
        )


@dataclass(frozen=True, slots=True, repr=False)
class AccountKeys:
    """Everything a key backup holds: the root key and the account's device keys."""

    account_id: str
    root: RootKey
    devices: tuple[DeviceKeys, ...]

    def __post_init__(self) -> None:
        check_id(self.account_id, "account id")
        ids = [d.device_id for d in self.devices]
        if len(set(ids)) != len(ids):
            raise MalformedData("duplicate device id")
        if any(d.account_id != self.account_id for d in self.devices):
            raise MalformedData("device belongs to another account")

    def device(self, device_id: str) -> DeviceKeys:
        for d in self.devices:
            if d.device_id == device_id:
                return d
        raise KeyError(device_id)

    def with_device(self, device: DeviceKeys) -> AccountKeys:
        return AccountKeys(self.account_id, self.root, (*self.devices, device))

    def __repr__(self) -> str:
        return (
            f"AccountKeys(account_id={self.account_id!r}, devices={len(self.devices)}, "
            "secrets=<hidden>)"
        )
