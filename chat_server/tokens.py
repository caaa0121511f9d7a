"""Opaque random tokens (sessions, WebSocket tickets, e-mail and invitation codes).

A token is 32 random bytes in base64url (256 bits; tickets need >= 128). The server
keeps only a SHA-256 of it: a stolen database gives no usable token, and since the
token is uniformly random a plain hash is enough (no salt, no slow KDF needed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_id() -> str:
    """A 128-bit opaque id for accounts, devices, threads (22 base64url characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


def well_formed(token: str) -> bool:
    """Cheap shape check before any database look-up."""
    return bool(_TOKEN_RE.fullmatch(token))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(secret: bytes, value: str, *, purpose: str) -> str:
    """A stable pseudonym for a value we must not store or send in clear (an IP, an
    e-mail address in a rate-limit key): HMAC-SHA256 under the server secret."""
    return hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]
