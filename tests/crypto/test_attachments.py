"""Attachments: secretstream chunks, FINAL exactly at the end, bounded memory."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import nacl.bindings as sodium
import pytest

from e2e_crypto.attachments import (
    CHUNK_BYTES,
    AttachmentRef,
    ciphertext_size,
    decrypt_file,
    decrypt_stream,
    encrypt_file,
    encrypt_stream,
    parse_attachment_ref,
)
from e2e_crypto.domains import ATTACHMENT_HASH_LABEL, digest
from e2e_crypto.errors import DecryptionFailed

CIPHER_CHUNK = CHUNK_BYTES + 17


def _encrypt(data: bytes) -> tuple[bytes, AttachmentRef]:
    # Odd piece sizes exercise the re-chunking.
    stream = encrypt_stream(data[i : i + 10_007] for i in range(0, len(data), 10_007))
    ciphertext = b"".join(stream)
    return ciphertext, stream.ref


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES]
)
def test_roundtrip_and_exact_sizes(size: int) -> None:
    data = os.urandom(size)
    ciphertext, ref = _encrypt(data)
    assert len(ciphertext) == ciphertext_size(size) == ref.ciphertext_size
    assert ref.ciphertext_digest == digest(ATTACHMENT_HASH_LABEL, ciphertext)
    assert b"".join(decrypt_stream([ciphertext], ref)) == data
    assert parse_attachment_ref(ref.encode()) == ref


def _refused(ciphertext: bytes, ref: AttachmentRef) -> None:
    with pytest.raises(DecryptionFailed):
        b"".join(decrypt_stream([ciphertext], ref))


DATA = os.urandom(2 * CHUNK_BYTES + 500)
CIPHERTEXT, REF = _encrypt(DATA)
HEADER, BODY = CIPHERTEXT[:24], CIPHERTEXT[24:]
CHUNKS = [BODY[i : i + CIPHER_CHUNK] for i in range(0, len(BODY), CIPHER_CHUNK)]


def test_truncated_file_refused() -> None:
    _refused(HEADER + b"".join(CHUNKS[:-1]), REF)  # last (FINAL) chunk dropped
    _refused(CIPHERTEXT[:-1], REF)
    _refused(HEADER, REF)
    _refused(b"", REF)


def test_reordered_chunks_refused() -> None:
    _refused(HEADER + CHUNKS[1] + CHUNKS[0] + CHUNKS[2], REF)


def test_extended_file_refused() -> None:
    _refused(CIPHERTEXT + b"\x00", REF)
    _refused(CIPHERTEXT + CHUNKS[-1], REF)


def test_final_tag_anywhere_but_the_end_refused() -> None:
    # A sender-crafted stream: FINAL on the first chunk, more chunks after it.
    key = REF.key
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    final = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    first = sodium.crypto_secretstream_xchacha20poly1305_push(
        state, bytes(CHUNK_BYTES), None, final
    )
    second = sodium.crypto_secretstream_xchacha20poly1305_push(state, b"x", None, final)
    crafted = header + first + second
    ref = AttachmentRef(key, digest(ATTACHMENT_HASH_LABEL, crafted), CHUNK_BYTES + 1)
    _refused(crafted, ref)
    # ... and a stream with no FINAL at all, digest and size "correct".
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    only = sodium.crypto_secretstream_xchacha20poly1305_push(state, b"abc", None, 0)
    ref = AttachmentRef(key, digest(ATTACHMENT_HASH_LABEL, header + only), 3)
    _refused(header + only, ref)


def test_wrong_key_digest_or_size_refused() -> None:
    _refused(CIPHERTEXT, AttachmentRef(bytes(32), REF.ciphertext_digest, REF.plaintext_size))
    _refused(CIPHERTEXT, AttachmentRef(REF.key, bytes(32), REF.plaintext_size))
    _refused(CIPHERTEXT, AttachmentRef(REF.key, REF.ciphertext_digest, REF.plaintext_size - 1))
    for index in (0, 30, len(CIPHERTEXT) - 1):
        tampered = bytearray(CIPHERTEXT)
        tampered[index] ^= 1
        _refused(bytes(tampered), REF)


def test_files_stream_with_bounded_memory(tmp_path: Path) -> None:
    size = 16 * 1024 * 1024 + 12_345
    plain, sealed, back = tmp_path / "scan.pdf", tmp_path / "scan.enc", tmp_path / "scan.out"
    with plain.open("wb") as out:
        for _ in range(size // (1 << 20)):
            out.write(os.urandom(1 << 20))
        out.write(os.urandom(size % (1 << 20)))
    tracemalloc.start()
    try:
        with plain.open("rb") as src, sealed.open("wb") as dst:
            ref = encrypt_file(src, dst)
        _, encrypt_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with sealed.open("rb") as src, back.open("wb") as dst:
            assert decrypt_file(src, dst, ref) == size
        _, decrypt_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A few 64 KiB chunks in flight, never the 16 MiB file.
    assert encrypt_peak < 1024 * 1024, encrypt_peak
    assert decrypt_peak < 1024 * 1024, decrypt_peak
    assert sealed.stat().st_size == ciphertext_size(size)
    with plain.open("rb") as a, back.open("rb") as b:
        while chunk := a.read(1 << 20):
            assert chunk == b.read(1 << 20)


def test_ref_is_required_after_the_stream_only() -> None:
    stream = encrypt_stream([b"abc"])
    with pytest.raises(RuntimeError):
        _ = stream.ref
    out = io.BytesIO()
    for piece in stream:
        out.write(piece)
    assert stream.ref.plaintext_size == 3
