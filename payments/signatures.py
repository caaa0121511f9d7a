"""Stripe-Signature verification, on the raw body and the caller's clock.

The header is ``t=<unix seconds>,v1=<hex>[,v1=<hex>...]``; each ``v1`` is
HMAC-SHA256(secret, ``"{t}.{raw body}"``). During a secret rotation Stripe signs with
both the old and the new secret, and an operator configures both: the event is
genuine if any ``v1`` matches any configured secret. Only an old timestamp is refused
(``tolerance``): a replay of a captured delivery after that no longer verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

TOLERANCE_SECONDS = 300


class InvalidSignature(Exception):
    """Refused: malformed header, no matching signature, or too old. The reason is
    for the log only, never for the caller (no oracle on which part failed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isdigit():
                raise InvalidSignature("timestamp")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("header")
    return timestamp, signatures


def verify_signature(
    payload: bytes,
    header: str,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> Mapping[str, Any]:
    """The event, parsed, if the signature holds; :class:`InvalidSignature` if not."""
    timestamp, signatures = _parse(header)
    signed = str(timestamp).encode() + b"." + payload
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        # Every candidate is compared: the time taken does not say which one matched.
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise InvalidSignature("mismatch")
    if timestamp < now - tolerance:
        raise InvalidSignature("too old")
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise InvalidSignature("body") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidSignature("body")
    if not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
        raise InvalidSignature("body")
    return event
