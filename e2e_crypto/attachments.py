"""Attachments: per-file key, secretstream in fixed-size chunks (client-only).

A file is encrypted with its own random key by crypto_secretstream_xchacha20poly1305::

    file := stream_header[24] | chunk_1 | ... | chunk_n        (n >= 1)
    chunk_i (i < n) := push(64 KiB of plaintext, tag MESSAGE)  -> 65,553 bytes
    chunk_n         := push(0..64 KiB of plaintext, tag FINAL)

The last chunk, and only it, carries TAG_FINAL: secretstream itself would accept a
stream cut at a chunk boundary, so the decryptor refuses a stream that ends without
FINAL (truncated), has FINAL earlier (extended), or has a short chunk before the end.
Chunks are ordered by secretstream's internal nonce, so reordering fails the MAC.

The message payload carries an ``AttachmentRef``: the key, the BLAKE2b digest of the
whole ciphertext (what the server stores in GridFS) and the plaintext size. Every
function streams: memory use is a few chunks whatever the file size. Decryption
yields authenticated chunks as it goes; the digest and the FINAL tag are only known
at the end, so on DecryptionFailed the caller must discard what it has written.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Final

import nacl.bindings as sodium
import nacl.exceptions

from e2e_crypto._randomness import SYSTEM, Randomness
from e2e_crypto.codec import Reader, Writer
from e2e_crypto.domains import ATTACHMENT_HASH_LABEL, HASH_BYTES, streaming_digest
from e2e_crypto.errors import CryptoError, DecryptionFailed, MalformedData

__all__ = [
    "CHUNK_BYTES",
    "AttachmentRef",
    "EncryptedStream",
    "ciphertext_size",
    "decrypt_file",
    "decrypt_stream",
    "encrypt_file",
    "encrypt_stream",
    "parse_attachment_ref",
]

CHUNK_BYTES: Final = 64 * 1024
KEY_BYTES: Final = 32
HEADER_BYTES: Final = 24
_ABYTES: Final = 17
_CIPHER_CHUNK: Final = CHUNK_BYTES + _ABYTES
_TAG_MESSAGE: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_REF_VERSION: Final = 1
MAX_ATTACHMENT_BYTES: Final = 2**40


def ciphertext_size(plaintext_size: int) -> int:
    """Exact encrypted size of a file of ``plaintext_size`` bytes."""
    chunks = max(1, -(-plaintext_size // CHUNK_BYTES))
    return HEADER_BYTES + plaintext_size + chunks * _ABYTES


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """What a message payload says about an attachment (key included: keep it secret)."""

    key: bytes = field(repr=False)
    ciphertext_digest: bytes
    plaintext_size: int

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES or len(self.ciphertext_digest) != HASH_BYTES:
            raise MalformedData("attachment key and digest must be 32 bytes")
        if not 0 <= self.plaintext_size <= MAX_ATTACHMENT_BYTES:
            raise MalformedData("attachment size out of range")

    @property
    def ciphertext_size(self) -> int:
        return ciphertext_size(self.plaintext_size)

    def encode(self) -> bytes:
        return bytes(
            Writer()
            .u8(_REF_VERSION)
            .fixed(self.key, KEY_BYTES, "attachment key")
            .fixed(self.ciphertext_digest, HASH_BYTES, "ciphertext digest")
            .u64(self.plaintext_size)
        )


def parse_attachment_ref(data: bytes) -> AttachmentRef:
    reader = Reader(data)
    if reader.u8("attachment ref version") != _REF_VERSION:
        raise MalformedData("unsupported attachment ref version")
    ref = AttachmentRef(
        reader.take(KEY_BYTES, "attachment key"),
        reader.take(HASH_BYTES, "ciphertext digest"),
        reader.u64("plaintext size"),
    )
    reader.end("attachment ref")
    return ref


def _rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut arbitrary pieces into ``size``-byte chunks; the last may be shorter."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _read_pieces(src: BinaryIO) -> Iterator[bytes]:
    while piece := src.read(CHUNK_BYTES):
        yield piece


class EncryptedStream:
    """Iterator of ciphertext pieces; ``ref`` is available once it is exhausted."""

    def __init__(self, plaintext: Iterable[bytes], rng: Randomness) -> None:
        self._key = rng.random_bytes(KEY_BYTES)
        self._pieces = self._encrypt(plaintext, rng)
        self._ref: AttachmentRef | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._pieces)

    @property
    def ref(self) -> AttachmentRef:
        if self._ref is None:
            raise RuntimeError("consume the whole stream before asking for its ref")
        return self._ref

    def _encrypt(self, plaintext: Iterable[bytes], rng: Randomness) -> Iterator[bytes]:
        state, header = rng.start_push(self._key)
        hasher = streaming_digest(ATTACHMENT_HASH_LABEL)
        hasher.update(header)
        yield header
        size = 0
        pending: bytes | None = None
        # One chunk of look-ahead: a chunk is FINAL only if nothing follows it.
        for chunk in _rechunk(plaintext, CHUNK_BYTES):
            if pending is not None:
                out = sodium.crypto_secretstream_xchacha20poly1305_push(
                    state, pending, None, _TAG_MESSAGE
                )
                hasher.update(out)
                yield out
            size += len(chunk)
            pending = chunk
        out = sodium.crypto_secretstream_xchacha20poly1305_push(
            state, pending or b"", None, _TAG_FINAL
        )
        hasher.update(out)
        self._ref = AttachmentRef(self._key, hasher.digest(), size)
        yield out


def encrypt_stream(plaintext: Iterable[bytes]) -> EncryptedStream:
    """Encrypt an iterable of plaintext pieces (any sizes) under a fresh key."""
    return EncryptedStream(plaintext, SYSTEM)


def encrypt_file(src: BinaryIO, dst: BinaryIO) -> AttachmentRef:
    """Encrypt ``src`` into ``dst`` chunk by chunk; returns the ref for the payload."""
    stream = encrypt_stream(_read_pieces(src))
    for piece in stream:
        dst.write(piece)
    return stream.ref


def decrypt_stream(ciphertext: Iterable[bytes], ref: AttachmentRef) -> Iterator[bytes]:
    """Yield plaintext chunks; raises DecryptionFailed (at the point of failure)."""
    try:
        yield from _decrypt(ciphertext, ref)
    except (CryptoError, nacl.exceptions.CryptoError, ValueError):
        raise DecryptionFailed from None


def _decrypt(ciphertext: Iterable[bytes], ref: AttachmentRef) -> Iterator[bytes]:
    hasher = streaming_digest(ATTACHMENT_HASH_LABEL)
    pieces = _rechunk(ciphertext, HEADER_BYTES)
    header = next(pieces, b"")
    if len(header) != HEADER_BYTES:
        raise DecryptionFailed
    hasher.update(header)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, ref.key)
    chunks = _rechunk(pieces, _CIPHER_CHUNK)
    seen_final = False
    size = 0
    for chunk in chunks:
        if seen_final:
            raise DecryptionFailed  # bytes after the FINAL chunk: extended
        hasher.update(chunk)
        message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, None)
        if tag == _TAG_FINAL:
            seen_final = True
        elif tag != _TAG_MESSAGE or len(message) != CHUNK_BYTES:
            raise DecryptionFailed  # short or oddly tagged chunk before the end
        size += len(message)
        if size > ref.plaintext_size:
            raise DecryptionFailed
        yield message
    if not seen_final or size != ref.plaintext_size:
        raise DecryptionFailed  # truncated
    if not hmac.compare_digest(hasher.digest(), ref.ciphertext_digest):
        raise DecryptionFailed


def decrypt_file(src: BinaryIO, dst: BinaryIO, ref: AttachmentRef) -> int:
    """Decrypt ``src`` into ``dst``; returns the plaintext size. On DecryptionFailed
    ``dst`` holds a partial, unverified prefix: delete it.
    """
    written = 0
    for chunk in decrypt_stream(_read_pieces(src), ref):
        dst.write(chunk)
        written += len(chunk)
    return written


def _encrypt_stream_with(plaintext: Iterable[bytes], rng: Randomness) -> EncryptedStream:
    """For the vector generator only (fixed key and stream header)."""
    return EncryptedStream(plaintext, rng)
