"""Domain separation: every label, personalisation string and signature context.

Three kinds of BLAKE2b use, each written so that libsodium.js can reproduce it with
the functions its wrapper exposes (the wrapper's salt/personal function hashes an
*empty* message only, so personalisation is reserved for deriving from secrets):

* ``digest(label, data)``   BLAKE2b-256 of public data, keyed with a public ASCII
  label (16..64 bytes). libsodium.js: ``crypto_generichash(32, data, label)``.
* ``derive(secret, person)`` BLAKE2b-256 of the empty message keyed with a secret,
  personalised with a 16-byte string (ASCII, right-padded with NUL), zero salt.
  libsodium.js: ``crypto_generichash_blake2b_salt_personal(32, secret, null, person)``.
* ``mac(secret, person, data)`` ``digest`` keyed with ``derive(secret, person)``:
  a keyed BLAKE2b MAC whose key is domain-separated from every other use of the
  secret.

Signature contexts are NUL-terminated ASCII prefixes. No context is a prefix of
another and none contains NUL, so one signed message can never be read as another.
docs/protocol.md lists the same values; tests check the two agree.
"""

from __future__ import annotations

import hashlib

import nacl.bindings

from e2e_crypto.errors import MalformedData

__all__ = [
    "ATTACHMENT_HASH_LABEL",
    "BROADCAST_BODY_LABEL",
    "BROADCAST_SIGNATURE_CONTEXT",
    "CIPHERTEXT_HASH_LABEL",
    "DEVICE_CERTIFICATE_CONTEXT",
    "ENVELOPE_SIGNATURE_CONTEXT",
    "FRANKING_PERSON",
    "GROUP_COMMIT_CONTEXT",
    "GROUP_COMMIT_LABEL",
    "HASH_BYTES",
    "KEY_COMMITMENT_PERSON",
    "MEMBERSHIP_CONTEXT",
    "MEMBERSHIP_LABEL",
    "SAFETY_NUMBER_LABEL",
    "SLIP_SIGNATURE_CONTEXT",
    "SOCKET_PROOF_CONTEXT",
    "STAMP_PERSON",
    "THREAD_OPENING_CONTEXT",
    "WRAPS_HASH_LABEL",
    "derive",
    "digest",
    "mac",
    "streaming_digest",
]

HASH_BYTES = 32

# Public labels, used as the BLAKE2b key of digests over public data.
CIPHERTEXT_HASH_LABEL = b"CareChat v1 envelope ciphertext"
WRAPS_HASH_LABEL = b"CareChat v1 envelope wraps"
BROADCAST_BODY_LABEL = b"CareChat v1 broadcast body"
ATTACHMENT_HASH_LABEL = b"CareChat v1 attachment ciphertext"
GROUP_COMMIT_LABEL = b"CareChat v1 group commit"
MEMBERSHIP_LABEL = b"CareChat v1 practice membership"
SAFETY_NUMBER_LABEL = b"CareChat v1 safety number"


def _person(name: bytes) -> bytes:
    if len(name) > 16:
        raise AssertionError("personalisation longer than 16 bytes")
    return name.ljust(16, b"\x00")


# Personalisation strings, for deriving from secrets (always exactly 16 bytes).
KEY_COMMITMENT_PERSON = _person(b"cc1-key-commit")
FRANKING_PERSON = _person(b"cc1-franking")
STAMP_PERSON = _person(b"cc1-server-stamp")

# Signature contexts.
ENVELOPE_SIGNATURE_CONTEXT = b"CareChat v1 envelope signature\x00"
BROADCAST_SIGNATURE_CONTEXT = b"CareChat v1 broadcast signature\x00"
SLIP_SIGNATURE_CONTEXT = b"CareChat v1 broadcast slip signature\x00"
DEVICE_CERTIFICATE_CONTEXT = b"CareChat v1 device certificate\x00"
GROUP_COMMIT_CONTEXT = b"CareChat v1 group epoch commit\x00"
MEMBERSHIP_CONTEXT = b"CareChat v1 practice membership list\x00"
THREAD_OPENING_CONTEXT = b"CareChat v1 thread opening\x00"
SOCKET_PROOF_CONTEXT = b"CareChat v1 socket proof\x00"


def digest(label: bytes, data: bytes, size: int = HASH_BYTES) -> bytes:
    """BLAKE2b of public ``data`` with the public ``label`` as key."""
    result: bytes = nacl.bindings.crypto_generichash_blake2b_salt_personal(
        data, digest_size=size, key=label
    )
    return result


def streaming_digest(label: bytes) -> hashlib.blake2b:
    """Incremental ``digest`` for data that must not be held in memory at once.

    hashlib's BLAKE2b is the same RFC 7693 function as libsodium's; PyNaCl's own
    streaming wrapper is untyped, and this is the only place that needs one.
    """
    return hashlib.blake2b(key=label, digest_size=HASH_BYTES)


def derive(secret: bytes, person: bytes) -> bytes:
    """A 32-byte subkey of ``secret`` for the purpose named by ``person``."""
    if not 16 <= len(secret) <= 64:
        raise MalformedData("secret must be 16..64 bytes")
    if len(person) != 16:
        raise MalformedData("personalisation must be 16 bytes")
    result: bytes = nacl.bindings.crypto_generichash_blake2b_salt_personal(
        b"", digest_size=HASH_BYTES, key=secret, person=person
    )
    return result


def mac(secret: bytes, person: bytes, data: bytes) -> bytes:
    """Keyed BLAKE2b-256 of ``data`` under the ``person`` subkey of ``secret``."""
    return digest(derive(secret, person), data)
