"""Key backup: an account's private keys sealed under a recovery passphrase (client-only).

The blob is stored server-side as an opaque value; a new device fetches it, asks for
the passphrase, and gets back the root key and every device key, so it can read old
messages (which were wrapped to those device keys)::

    blob := "CCKB" | u8 version(1) | u8 algorithm(2 = argon2id v1.3)
            | u32 opslimit | u32 memlimit_kib | salt[16] | nonce[24] | ciphertext
    key  := argon2id(32 bytes, UTF-8(NFC(passphrase)), salt, opslimit, memlimit_kib*1024)
    ciphertext := XChaCha20-Poly1305-IETF(key, nonce, keys, AAD = blob up to nonce)
    keys := u8 version(1) | ident account_id | root_seed[32]
            | u16 n | n x (ident device_id | encryption_secret[32] | signing_seed[32])

The parameters travel in the blob (and are authenticated as AAD), so they can be
raised later without breaking old blobs; ``open_backup`` refuses parameters below
the floor (19 MiB, 2 passes) or absurdly high ones a hostile server could plant to
exhaust a client's memory.
"""

from __future__ import annotations

import unicodedata
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.pwhash.argon2id

from e2e_crypto._randomness import SYSTEM, Randomness
from e2e_crypto.codec import Reader, Writer
from e2e_crypto.errors import CryptoError, DecryptionFailed, MalformedData
from e2e_crypto.keys import SECRET_BYTES, AccountKeys, DeviceKeys, RootKey
from e2e_crypto.wire import NONCE_BYTES

__all__ = [
    "DEFAULT_MEMLIMIT_KIB",
    "DEFAULT_OPSLIMIT",
    "MIN_MEMLIMIT_KIB",
    "MIN_OPSLIMIT",
    "MIN_PASSPHRASE_CHARS",
    "open_backup",
    "seal_backup",
]

MAGIC: Final = b"CCKB"
VERSION: Final = 1
ALG_ARGON2ID13: Final = 2
SALT_BYTES: Final = 16
MIN_OPSLIMIT: Final = 2
MAX_OPSLIMIT: Final = 16
MIN_MEMLIMIT_KIB: Final = 19 * 1024
MAX_MEMLIMIT_KIB: Final = 1024 * 1024
DEFAULT_OPSLIMIT: Final = 3
DEFAULT_MEMLIMIT_KIB: Final = 64 * 1024
MIN_PASSPHRASE_CHARS: Final = 12
MAX_DEVICES: Final = 256
_PREFIX_BYTES: Final = 4 + 1 + 1 + 4 + 4 + SALT_BYTES + NONCE_BYTES


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise MalformedData("passphrase must be a string")
    # NFC so that the same passphrase typed on two keyboards gives the same bytes.
    normal = unicodedata.normalize("NFC", passphrase)
    if len(normal) < MIN_PASSPHRASE_CHARS:
        raise MalformedData(f"passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")
    return normal.encode("utf-8")


def _check_params(opslimit: int, memlimit_kib: int) -> None:
    if not MIN_OPSLIMIT <= opslimit <= MAX_OPSLIMIT:
        raise MalformedData("argon2id opslimit out of range")
    if not MIN_MEMLIMIT_KIB <= memlimit_kib <= MAX_MEMLIMIT_KIB:
        raise MalformedData("argon2id memlimit out of range")


def _derive(passphrase: bytes, salt: bytes, opslimit: int, memlimit_kib: int) -> bytes:
    key: bytes = nacl.pwhash.argon2id.kdf(
        SECRET_BYTES, passphrase, salt, opslimit=opslimit, memlimit=memlimit_kib * 1024
    )
    return key


def _serialise(keys: AccountKeys) -> bytes:
    if len(keys.devices) > MAX_DEVICES:
        raise MalformedData("too many devices for one backup")
    out = Writer().u8(VERSION).ident(keys.account_id, "account id")
    out.fixed(keys.root.seed, SECRET_BYTES, "root seed").u16(len(keys.devices))
    for d in keys.devices:
        out.ident(d.device_id, "device id")
        out.fixed(d.encryption_secret, SECRET_BYTES, "encryption secret")
        out.fixed(d.signing_seed, SECRET_BYTES, "signing seed")
    return bytes(out)


def _deserialise(data: bytes) -> AccountKeys:
    reader = Reader(data)
    if reader.u8("keys version") != VERSION:
        raise MalformedData("unsupported keys version")
    account_id = reader.ident("account id")
    root = RootKey(reader.take(SECRET_BYTES, "root seed"))
    count = reader.u16("device count")
    devices = tuple(
        DeviceKeys(
            account_id,
            reader.ident("device id"),
            reader.take(SECRET_BYTES, "encryption secret"),
            reader.take(SECRET_BYTES, "signing seed"),
        )
        for _ in range(count)
    )
    reader.end("keys")
    return AccountKeys(account_id, root, devices)


def seal_backup(
    keys: AccountKeys,
    passphrase: str,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit_kib: int = DEFAULT_MEMLIMIT_KIB,
) -> bytes:
    """Seal ``keys`` under ``passphrase``; the cost parameters may only go up."""
    return _seal_backup(keys, passphrase, opslimit, memlimit_kib, SYSTEM)


def _seal_backup(
    keys: AccountKeys, passphrase: str, opslimit: int, memlimit_kib: int, rng: Randomness
) -> bytes:
    secret = _passphrase_bytes(passphrase)
    _check_params(opslimit, memlimit_kib)
    salt, nonce = rng.random_bytes(SALT_BYTES), rng.random_bytes(NONCE_BYTES)
    prefix = bytes(
        Writer()
        .raw(MAGIC)
        .u8(VERSION)
        .u8(ALG_ARGON2ID13)
        .u32(opslimit)
        .u32(memlimit_kib)
        .raw(salt)
        .raw(nonce)
    )
    key = _derive(secret, salt, opslimit, memlimit_kib)
    sealed: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        _serialise(keys), prefix, nonce, key
    )
    return prefix + sealed


def open_backup(blob: bytes, passphrase: str) -> AccountKeys:
    """Recover the keys; DecryptionFailed for a wrong passphrase or a damaged blob.

    A passphrase too short to be valid raises MalformedData before any work.
    """
    secret = _passphrase_bytes(passphrase)
    try:
        reader = Reader(blob)
        if reader.take(4, "magic") != MAGIC or reader.u8("version") != VERSION:
            raise MalformedData("not a CareChat key backup")
        if reader.u8("algorithm") != ALG_ARGON2ID13:
            raise MalformedData("unsupported key derivation")
        opslimit, memlimit_kib = reader.u32("opslimit"), reader.u32("memlimit")
        _check_params(opslimit, memlimit_kib)
        salt, nonce = reader.take(SALT_BYTES, "salt"), reader.take(NONCE_BYTES, "nonce")
        sealed = reader.take(reader.remaining, "ciphertext")
        key = _derive(secret, salt, opslimit, memlimit_kib)
        plain: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed, blob[:_PREFIX_BYTES], nonce, key
        )
        return _deserialise(plain)
    except (CryptoError, nacl.exceptions.CryptoError, ValueError):
        raise DecryptionFailed from None
