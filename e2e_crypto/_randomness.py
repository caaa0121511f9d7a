"""Where the client half gets randomness from (private; client-only).

Production code always uses ``SYSTEM``: ``nacl.utils.random`` for keys and nonces,
libsodium's ``crypto_box_seal`` for wraps. ``SeededRandomness`` exists only so that
``e2e_crypto.vectors`` can publish byte-exact test vectors; no public function takes
a Randomness argument, so callers can never choose a nonce or an ephemeral key.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

import nacl.bindings
import nacl.utils

from e2e_crypto.codec import Writer

__all__ = ["SYSTEM", "Randomness", "SeededRandomness", "SystemRandomness"]


class Randomness(Protocol):
    def random_bytes(self, size: int) -> bytes: ...

    def seal(self, message: bytes, public_key: bytes) -> bytes:
        """crypto_box_seal(message, public_key), with this source's ephemeral key."""
        ...

    def start_push(self, key: bytes) -> tuple[Any, bytes]:
        """crypto_secretstream init_push: (state, 24-byte stream header)."""
        ...


class SystemRandomness:
    __slots__ = ()

    def random_bytes(self, size: int) -> bytes:
        value: bytes = nacl.utils.random(size)
        return value

    def seal(self, message: bytes, public_key: bytes) -> bytes:
        sealed: bytes = nacl.bindings.crypto_box_seal(message, public_key)
        return sealed

    def start_push(self, key: bytes) -> tuple[Any, bytes]:
        state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
        header: bytes = nacl.bindings.crypto_secretstream_xchacha20poly1305_init_push(state, key)
        return state, header


SYSTEM: Final = SystemRandomness()

_DRBG_LABEL: Final = b"CareChat test-vector DRBG"


class SeededRandomness:
    """Deterministic bytes from a seed. FOR TEST VECTORS ONLY: output is predictable."""

    __slots__ = ("_counter", "_seed")

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def random_bytes(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            block = bytes(Writer().raw(self._seed).u64(self._counter))
            self._counter += 1
            out += nacl.bindings.crypto_generichash_blake2b_salt_personal(
                block, digest_size=64, key=_DRBG_LABEL
            )
        return out[:size]

    def seal(self, message: bytes, public_key: bytes) -> bytes:
        # libsodium's crypto_box_seal, spelled out with a chosen ephemeral key:
        # epk | crypto_box(message, nonce=BLAKE2b-192(epk | pk), pk, esk).
        # crypto_box_seal_open cannot tell the difference, which the tests check.
        epk, esk = nacl.bindings.crypto_box_seed_keypair(self.random_bytes(32))
        nonce = nacl.bindings.crypto_generichash_blake2b_salt_personal(
            epk + public_key, digest_size=24
        )
        boxed: bytes = nacl.bindings.crypto_box_easy(message, nonce, public_key, esk)
        return bytes(epk) + boxed

    def start_push(self, key: bytes) -> tuple[Any, bytes]:
        # init_push draws a random 24-byte header, then derives the state from
        # (key, header) exactly as init_pull does; so init_pull on a chosen header
        # yields the state init_push would have produced. Test vectors only.
        header = self.random_bytes(24)
        state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
        nacl.bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
        return state, header
