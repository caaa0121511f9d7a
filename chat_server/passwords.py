"""Password hashing with argon2id (PyNaCl), off the event loop and bounded in memory.

Each hash costs ``MEMLIMIT`` bytes for a few tens of milliseconds, so hashing runs in
worker threads (libsodium releases the GIL) behind a semaphore: a burst of logins
queues up instead of exhausting memory or blocking every socket of the process.
"""

from __future__ import annotations

import asyncio

import nacl.exceptions
import nacl.pwhash

# OWASP's argon2id floor: 19 MiB, 2 passes.
OPSLIMIT = 2
MEMLIMIT = 19 * 1024 * 1024
MAX_PASSWORD_BYTES = 1024


class PasswordHasher:
    def __init__(self, *, concurrency: int = 4) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        # Verified against when the account does not exist, so an unknown e-mail
        # address costs the same time as a wrong password (no enumeration by timing).
        self._dummy: bytes | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            hashed = await asyncio.to_thread(
                nacl.pwhash.argon2id.str, password.encode(), opslimit=OPSLIMIT, memlimit=MEMLIMIT
            )
        return hashed.decode()

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if ``password`` matches; with ``stored=None`` it does the same work."""
        if stored is None:
            if self._dummy is None:
                self._dummy = (await self.hash("not a password of anyone")).encode()
            target = self._dummy
        else:
            target = stored.encode()
        async with self._slots:
            try:
                ok = await asyncio.to_thread(nacl.pwhash.verify, target, password.encode())
            except nacl.exceptions.InvalidkeyError:
                ok = False
        return bool(ok) and stored is not None
