"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits).

Codes from the step before and after are accepted for clock drift; a code is
accepted once (the caller stores the last step used), so a shoulder-surfed code
cannot be replayed within its window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote

STEP_SECONDS = 30
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode()


def code_at(secret: str, step: int) -> str:
    key = base64.b32decode(secret)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, moment: datetime, last_used: int | None) -> int | None:
    """The step ``code`` belongs to (for replay tracking), or None if it is not valid."""
    # isdigit() alone takes "²" or "٣", which compare_digest then refuses with a TypeError.
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    now = step_of(moment)
    for step in (now - 1, now, now + 1):
        if last_used is not None and step <= last_used:
            continue
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, account_label: str) -> str:
    return (
        f"otpauth://totp/CareChat:{quote(account_label)}?secret={secret}"
        f"&issuer=CareChat&digits={DIGITS}&period={STEP_SECONDS}"
    )
