"""Keyed pseudonyms: patient identifiers (e-mail addresses, IPs) in a form safe to store.

Redis keys and audit entries need a stable handle for "the same e-mail address" or
"the same IP" without ever holding the value itself. A keyed BLAKE2b digest gives that:
without the server's secret nobody can test guesses against a leaked Redis dump or
audit log, as they could against a plain hash of a low-entropy value such as an IPv4
address. Each use has its own *purpose* (BLAKE2b personalisation), so the pseudonym of
one IP in the rate limiter cannot be joined with its pseudonym in the audit log.
"""

from __future__ import annotations

import hashlib

MIN_SECRET_BYTES = 16
MAX_SECRET_BYTES = 64  # BLAKE2b's key limit
_MAX_PURPOSE_BYTES = 16  # BLAKE2b's personalisation limit
DIGEST_BYTES = 16  # 128 bits: collisions need ~2**64 distinct values


class Pseudonymizer:
    """Maps a value to a hex pseudonym, stable for one (secret, purpose) pair."""

    __slots__ = ("_person", "_secret")

    def __init__(self, secret: bytes, *, purpose: str) -> None:
        if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES:
            raise ValueError(
                f"pseudonym secret must be {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes"
            )
        person = purpose.encode("ascii")
        if not 1 <= len(person) <= _MAX_PURPOSE_BYTES:
            raise ValueError(f"purpose must be 1-{_MAX_PURPOSE_BYTES} ASCII characters")
        self._secret = bytes(secret)
        self._person = person

    def __call__(self, value: str) -> str:
        digest = hashlib.blake2b(
            value.encode("utf-8"),
            key=self._secret,
            person=self._person,
            digest_size=DIGEST_BYTES,
        )
        return digest.hexdigest()

    def __repr__(self) -> str:
        # The secret never prints, not even in a traceback's locals.
        return f"Pseudonymizer(purpose={self._person.decode()!r})"
