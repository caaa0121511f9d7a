"""Safety numbers: 60 digits two people compare to detect a swapped root key.

Pure public-key code (server-importable, though only clients need it). Per account::

    h_0     = BLAKE2b-512(key=SAFETY_NUMBER_LABEL,
                          data = u8 version(1) | ident account_id | root_key[32])
    h_{i+1} = BLAKE2b-512(key=SAFETY_NUMBER_LABEL, data = h_i | root_key[32])
    half    = h_5200 bytes 0..29, six 5-byte big-endian integers, each mod 100000,
              written as 5 zero-padded decimal digits  -> 30 digits

The number is the two halves sorted as strings and concatenated (so both people see
the same 60 digits whatever their order), shown as 12 groups of 5. The iteration
count follows Signal's fingerprint, making a brute-force search for a colliding key
5200 times dearer.
"""

from __future__ import annotations

from typing import Final

from e2e_crypto.codec import Writer
from e2e_crypto.domains import SAFETY_NUMBER_LABEL, digest
from e2e_crypto.public import PublicSigningKey

__all__ = ["SAFETY_ITERATIONS", "format_safety_number", "safety_number"]

SAFETY_ITERATIONS: Final = 5200
_VERSION: Final = 1


def _half(account_id: str, root_key: PublicSigningKey) -> str:
    state = bytes(Writer().u8(_VERSION).ident(account_id, "account id").raw(root_key.raw))
    state = digest(SAFETY_NUMBER_LABEL, state, size=64)
    for _ in range(SAFETY_ITERATIONS):
        state = digest(SAFETY_NUMBER_LABEL, state + root_key.raw, size=64)
    groups = (int.from_bytes(state[i : i + 5], "big") % 100_000 for i in range(0, 30, 5))
    return "".join(f"{g:05d}" for g in groups)


def safety_number(
    account_a: str, root_a: PublicSigningKey, account_b: str, root_b: PublicSigningKey
) -> str:
    """The 60-digit safety number of two accounts (argument order does not matter)."""
    return "".join(sorted((_half(account_a, root_a), _half(account_b, root_b))))


def format_safety_number(digits: str) -> str:
    """``"12345 67890 ..."``: 12 groups of 5 digits, as shown to users."""
    return " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))
