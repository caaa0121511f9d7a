"""Structured JSON logs that cannot carry patient data, tokens or ciphertext.

Log calls pass context as ``extra={"fields": {...}}``. :class:`RedactingFilter` sits on
the handler, so it sees every record from every library: it drops deny-listed field
names outright and masks anything in a message that looks like a credential or a
blob (long base64/hex runs, bearer tokens, URIs with passwords). The request id lives
in a context variable set by the HTTP middleware and the WebSocket reader, so every
line of one request or frame can be joined up.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Field names whose values never reach a log line, whatever the caller intended.
# The checkout or install root holding our packages: frames under it are our code.
_ROOT = str(Path(__file__).resolve().parent.parent) + "/"
DENIED_FIELDS = frozenset(
    {
        "body",
        "payload",
        "plaintext",
        "text",
        "ciphertext",
        "envelope",
        "wraps",
        "token",
        "ticket",
        "session",
        "password",
        "passphrase",
        "secret",
        "key",
        "authorization",
        "cookie",
        "email",
        "phone",
        "name",
        "code",
        "totp",
    }
)
_MASKS = [
    # credentials inside URIs: scheme://user:password@host
    (re.compile(r"(\w+://[^:/\s]*:)[^@\s]+@"), r"\1***@"),
    (re.compile(r"(?i)\b(bearer|ticket|token|session)([=: ]+)[\w.~+/=-]+"), r"\1\2***"),
    # long base64url/hex runs: tokens, keys, ciphertext. Not "/", so URL paths with
    # their (pseudonymous, 22-character) ids stay readable.
    (re.compile(r"[A-Za-z0-9+_-]{32,}={0,2}"), "[redacted]"),
]


def scrub(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {
                k: ("[redacted]" if k.lower() in DENIED_FIELDS else v) for k, v in fields.items()
            }
        # Format once, then scrub: arguments may be anything a library passed in.
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Exception messages can quote input; keep the type and where it was raised
            # (code locations hold no data), drop the text.
            exc = record.exc_info[1]
            record.exc_text = f"{type(exc).__name__} at {_raised_at(exc)} (details withheld)"
            record.exc_info = None
        return True


def _raised_at(exc: BaseException) -> str:
    """``file:line in function`` of the innermost frame, and of the innermost frame of
    our own code when that is elsewhere (a library raised inside our call)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown place"
    where = [frames[-1]]
    ours = [f for f in frames if _is_ours(f.filename)]
    if ours and ours[-1] is not frames[-1]:
        where.append(ours[-1])
    return ", called from ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in where)


def _is_ours(filename: str) -> bool:
    return filename.startswith(_ROOT) and "site-packages" not in filename


def _short(filename: str) -> str:
    # Paths from the package on: no home directories or virtualenvs in the logs.
    if _is_ours(filename):
        return filename.removeprefix(_ROOT)
    _, found, tail = filename.rpartition("site-packages/")
    return tail if found else filename.rsplit("/", 1)[-1]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


def configure_logging(level: str, fmt: str, stream: TextIO | None = None) -> logging.Handler:
    """Installs one redacting handler on the root logger; returns it for tests."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # pymongo logs command bodies at DEBUG: never let them through.
    logging.getLogger("pymongo").setLevel(max(logging.INFO, logging.getLevelName(level)))
    return handler
