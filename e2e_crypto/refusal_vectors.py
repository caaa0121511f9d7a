"""Negative test vectors: inputs every implementation must refuse (tests/data/refusals.json).

docs/protocol.md lists strict refusals (trailing bytes, unknown versions, kinds and
tags, flags other than 0/1, all-zero keys, duplicate recipients, non-canonical
base64url, the opening checks, truncated or extended attachment streams, out-of-range
backup parameters). Each vector here breaks exactly one rule and, where a signature
is involved, is signed correctly by the sender device, so an implementation that
skipped that one check would accept it. Built from the positive vectors' keys by
``e2e_crypto.vectors``; all byte strings lowercase hex.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Any, Final

import nacl.bindings

from e2e_crypto._randomness import SeededRandomness
from e2e_crypto.backup import MAX_MEMLIMIT_KIB, MIN_MEMLIMIT_KIB, MIN_OPSLIMIT, _seal_backup
from e2e_crypto.codec import Writer
from e2e_crypto.domains import (
    ATTACHMENT_HASH_LABEL,
    CIPHERTEXT_HASH_LABEL,
    ENVELOPE_SIGNATURE_CONTEXT,
    KEY_COMMITMENT_PERSON,
    WRAPS_HASH_LABEL,
    derive,
    digest,
)
from e2e_crypto.franking import FrankingKind, franking_commitment
from e2e_crypto.keys import AccountKeys, DeviceKeys

__all__ = ["build_refusals"]

CHUNK: Final = 65_536 + 17  # a full secretstream chunk on the wire


@dataclass(frozen=True, slots=True)
class _Recipient:
    tag: int
    ids: tuple[bytes, ...]
    key: bytes


@dataclass(frozen=True, slots=True)
class _Draft:
    """An envelope's fields as raw bytes, so that any one of them can be made wrong."""

    version: int = 1
    kind: int = 1
    thread_id: bytes = b"thread-42"
    client_msg_id: bytes = b"msg-0001"
    group_flag: int = 0
    recipients: tuple[_Recipient, ...] = ()
    count: int | None = None
    header_suffix: bytes = b""
    key_commitment: bytes | None = None
    franking_commitment: bytes | None = None
    ad_with_length: bool = False
    ciphertext_bytes: int | None = None


def _ident(raw: bytes) -> bytes:
    return struct.pack(">B", len(raw)) + raw


def _envelope(sender: DeviceKeys, draft: _Draft, body: bytes, rng: SeededRandomness) -> bytes:
    content_key, franking_key = rng.random_bytes(32), rng.random_bytes(32)
    nonce = rng.random_bytes(24)
    key_commitment = draft.key_commitment or derive(content_key, KEY_COMMITMENT_PERSON)
    franking = draft.franking_commitment or franking_commitment(
        franking_key,
        body,
        kind=FrankingKind.MESSAGE,
        thread_id="thread-42",
        client_msg_id="msg-0001",
        sender_account=sender.account_id,
        sender_device=sender.device_id,
    )
    header = Writer().u8(draft.version).u8(draft.kind)
    header.raw(_ident(draft.thread_id) + _ident(draft.client_msg_id))
    header.raw(_ident(sender.account_id.encode()) + _ident(sender.device_id.encode()))
    header.u8(draft.group_flag)
    header.u16(len(draft.recipients) if draft.count is None else draft.count)
    for r in draft.recipients:
        header.u8(r.tag).raw(b"".join(_ident(i) for i in r.ids)).raw(r.key)
    header.raw(key_commitment + franking + draft.header_suffix)
    header_bytes = bytes(header)
    ad = (
        struct.pack(">I", len(header_bytes)) + header_bytes
        if draft.ad_with_length
        else header_bytes
    )
    ciphertext: bytes = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        franking_key + body, ad, nonce, content_key
    )
    if draft.ciphertext_bytes is not None:
        ciphertext = ciphertext[: draft.ciphertext_bytes]
    # No box can be sealed to the all-zero key: that recipient gets 80 random bytes.
    wraps = b"".join(
        rng.seal(content_key, r.key) if any(r.key) else rng.random_bytes(80)
        for r in draft.recipients
    )
    signed = (
        ENVELOPE_SIGNATURE_CONTEXT
        + struct.pack(">I", len(header_bytes))
        + header_bytes
        + digest(CIPHERTEXT_HASH_LABEL, nonce + ciphertext)
        + digest(WRAPS_HASH_LABEL, wraps)
    )
    signature = sender._sign(signed)
    return bytes(
        Writer().blob32(header_bytes).raw(nonce).blob32(ciphertext).raw(wraps).raw(signature)
    )


def _envelopes(alice: AccountKeys, bob: AccountKeys) -> list[dict[str, Any]]:
    sender, desk = alice.device("phone"), bob.device("desk")
    laptop = alice.device("laptop")
    to_desk = _Recipient(1, (b"dr-bob", b"desk"), desk.encryption_key.raw)
    to_laptop = _Recipient(1, (b"patient-alice", b"laptop"), laptop.encryption_key.raw)
    base = _Draft(recipients=(to_desk, to_laptop))
    body = b"Refusal vector: never shown."
    structural: list[tuple[str, str, _Draft]] = [
        ("version_2", "unknown envelope version", replace(base, version=2)),
        ("kind_4", "unknown kind", replace(base, kind=4)),
        ("group_flag_2", "flags other than 0/1", replace(base, group_flag=2)),
        (
            "recipient_tag_3",
            "unknown recipient tag",
            replace(base, recipients=(to_desk, replace(to_laptop, tag=3))),
        ),
        ("no_recipients", "1..64 recipients", replace(base, recipients=(), count=0)),
        (
            "duplicate_recipient",
            "duplicate recipients",
            replace(base, recipients=(to_desk, to_desk)),
        ),
        (
            "zero_recipient_key",
            "all-zero public keys",
            replace(base, recipients=(to_desk, replace(to_laptop, key=bytes(32)))),
        ),
        (
            "thread_id_slash",
            "identifiers match ^[A-Za-z0-9_-]{1,64}$",
            replace(base, thread_id=b"thread/42"),
        ),
        (
            "empty_client_msg_id",
            "identifiers match ^[A-Za-z0-9_-]{1,64}$",
            replace(base, client_msg_id=b""),
        ),
        (
            "header_trailing_byte",
            "trailing bytes (inside the header)",
            replace(base, header_suffix=b"\x00"),
        ),
        (
            "ciphertext_47_bytes",
            "the ciphertext is at least 48 bytes",
            replace(base, ciphertext_bytes=47),
        ),
    ]
    opening: list[tuple[str, str, _Draft]] = [
        (
            "key_commitment_mismatch",
            "opening step 5: key commitment",
            replace(base, key_commitment=bytes(range(32))),
        ),
        (
            "franking_commitment_mismatch",
            "opening step 7: franking commitment",
            replace(base, franking_commitment=bytes(range(32))),
        ),
        (
            "ad_with_length_prefix",
            "opening step 6: the AEAD associated data is the bare header, not blob32(header)",
            replace(base, ad_with_length=True),
        ),
    ]
    out: list[dict[str, Any]] = []
    for cases, is_structural in ((structural, True), (opening, False)):
        for name, rule, draft in cases:
            rng = SeededRandomness(f"refusal {name}".encode())
            envelope = _envelope(sender, draft, body, rng)
            out.append(
                {
                    "name": name,
                    "rule": rule,
                    "envelope": envelope.hex(),
                    "structural": is_structural,
                }
            )
    good = _envelope(sender, base, body, SeededRandomness(b"refusal good"))
    flipped_signature = good[:-1] + bytes([good[-1] ^ 1])
    flip_at = 4 + len(good) // 3  # inside the ciphertext, covered by the signature
    flipped_ciphertext = good[:flip_at] + bytes([good[flip_at] ^ 1]) + good[flip_at + 1 :]
    out += [
        {
            "name": "trailing_byte",
            "rule": "trailing bytes",
            "envelope": (good + b"\x00").hex(),
            "structural": True,
        },
        {
            "name": "truncated",
            "rule": "a field runs past the end",
            "envelope": good[:-1].hex(),
            "structural": True,
        },
        {
            "name": "signature_flipped",
            "rule": "opening step 3: signature",
            "envelope": flipped_signature.hex(),
            "structural": False,
        },
        {
            "name": "ciphertext_flipped",
            "rule": "opening step 3: signature covers the ciphertext",
            "envelope": flipped_ciphertext.hex(),
            "structural": False,
        },
    ]
    return out


def _attachments(big_ciphertext: bytes, big_ref: bytes) -> list[dict[str, Any]]:
    header, chunks = (
        big_ciphertext[:24],
        [big_ciphertext[i : i + CHUNK] for i in range(24, len(big_ciphertext), CHUNK)],
    )
    size = struct.unpack(">Q", big_ref[-8:])[0]

    def ref(file: bytes, plaintext_size: int = size) -> str:
        # Everything in the ref agrees with the file, so only the stream rule refuses.
        return (big_ref[:33] + digest_file(file) + struct.pack(">Q", plaintext_size)).hex()

    truncated = header + chunks[0] + chunks[1]
    reordered = header + chunks[1] + chunks[0] + chunks[2]
    extended = big_ciphertext + chunks[2]
    flipped = big_ciphertext[:100] + bytes([big_ciphertext[100] ^ 1]) + big_ciphertext[101:]
    cases = [
        ("truncated", "a stream ending without TAG_FINAL", truncated, ref(truncated, 2 * 65_536)),
        ("reordered", "any MAC failure (reordering included)", reordered, ref(reordered)),
        ("extended", "a chunk after TAG_FINAL", extended, ref(extended)),
        ("chunk_flipped", "any MAC failure", flipped, ref(flipped)),
        (
            "size_mismatch",
            "a plaintext size different from the reference",
            big_ciphertext,
            ref(big_ciphertext, size - 1),
        ),
        (
            "digest_mismatch",
            "a ciphertext digest mismatch",
            big_ciphertext,
            (big_ref[:33] + bytes(32) + big_ref[-8:]).hex(),
        ),
    ]
    # The multi-chunk file is large: each case says how to build its file from the
    # multi_chunk vector's ciphertext (slices [start, end)) instead of repeating it.
    spans = {
        "truncated": [[0, 24 + 2 * CHUNK]],
        "reordered": [
            [0, 24],
            [24 + CHUNK, 24 + 2 * CHUNK],
            [24, 24 + CHUNK],
            [24 + 2 * CHUNK, len(big_ciphertext)],
        ],
        "extended": [[0, len(big_ciphertext)], [24 + 2 * CHUNK, len(big_ciphertext)]],
        "chunk_flipped": [[0, len(big_ciphertext)]],
        "size_mismatch": [[0, len(big_ciphertext)]],
        "digest_mismatch": [[0, len(big_ciphertext)]],
    }
    out = []
    for name, rule, file, ref_hex in cases:
        entry: dict[str, Any] = {"name": name, "rule": rule, "ref": ref_hex, "slices": spans[name]}
        if name == "chunk_flipped":
            entry["xor_byte_at"] = 100
        assert _assemble(big_ciphertext, entry) == file
        out.append(entry)
    return out


def digest_file(file: bytes) -> bytes:
    return digest(ATTACHMENT_HASH_LABEL, file)


def _assemble(source: bytes, entry: dict[str, Any]) -> bytes:
    """The file an attachment refusal describes (the same recipe the tests follow)."""
    file = bytearray(b"".join(source[a:b] for a, b in entry["slices"]))
    if "xor_byte_at" in entry:
        file[entry["xor_byte_at"]] ^= 1
    return bytes(file)


def _backups(alice: AccountKeys, passphrase: str) -> list[dict[str, Any]]:
    cases = [
        ("opslimit_1", "opslimit below 2", 1, MIN_MEMLIMIT_KIB),
        ("memlimit_too_low", "memory below 19 MiB", MIN_OPSLIMIT, MIN_MEMLIMIT_KIB - 1),
        ("memlimit_too_high", "memory above 1 GiB", MIN_OPSLIMIT, MAX_MEMLIMIT_KIB + 1),
    ]
    out = []
    for name, rule, ops, mem in cases:
        # Sealed with valid parameters, then the header says otherwise: an opener must
        # refuse on the numbers before deriving anything.
        blob = bytearray(
            _seal_backup(
                alice, passphrase, MIN_OPSLIMIT, MIN_MEMLIMIT_KIB, SeededRandomness(name.encode())
            )
        )
        blob[6:14] = struct.pack(">II", ops, mem)
        out.append({"name": name, "rule": rule, "blob": bytes(blob).hex()})
    return out


BASE64URL: Final = [
    ("padding", "no padding", "AAE="),
    ("whitespace", "only [A-Za-z0-9_-]", "AA E"),
    ("standard_alphabet", "only [A-Za-z0-9_-]", "+/8"),
    ("impossible_length", "length mod 4 ≠ 1", "AAAAA"),
    ("unused_bits_set", "unused bits zero", "AB"),
]


def build_refusals(
    alice: AccountKeys,
    bob: AccountKeys,
    big_ciphertext: bytes,
    big_ref: bytes,
    passphrase: str,
) -> dict[str, Any]:
    return {
        "envelope": {
            "opener": {"account_id": "dr-bob", "device_id": "desk"},
            "sender": {"account_id": "patient-alice", "device_id": "phone"},
            "thread_id": "thread-42",
            "client_msg_id": "msg-0001",
            "cases": _envelopes(alice, bob),
        },
        "base64url": [{"name": n, "rule": r, "text": t} for n, r, t in BASE64URL],
        "attachment": {
            "source": "attachment.json multi_chunk",
            "cases": _attachments(big_ciphertext, big_ref),
        },
        "backup": {"passphrase": passphrase, "cases": _backups(alice, passphrase)},
    }
