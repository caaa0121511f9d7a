"""Marshmallow pieces shared by the HTTP bodies and the WebSocket frames."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn

import marshmallow as ma
import orjson

# Opaque ids (accounts, devices, threads, client message ids): URL-safe, bounded.
# \Z, not $: marshmallow's Regexp uses re.match, and $ would let "id\n" through.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}\Z"


_id_match = re.compile(ID_PATTERN).match


def is_id(value: object) -> bool:
    """What :func:`id_field` accepts, checked without marshmallow (for the hot frames)."""
    return type(value) is str and _id_match(value) is not None


def id_field(**kwargs: object) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Regexp(ID_PATTERN, error="an id"), **kwargs)  # type: ignore[arg-type]


class StrictBoolean(ma.fields.Boolean):
    """JSON ``true`` or ``false`` only; marshmallow's Boolean also takes 1, "yes", "on"."""

    def _deserialize(
        self, value: object, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PlainText(ma.validate.Regexp):
    """Text shown to other people as a name or a note: no control characters (C0 and
    C1: NUL, newlines, terminal escapes, and the Unicode line and paragraph separators),
    no bidirectional formatting characters, which reorder the text after them on screen
    (with U+202E a name can pass for another), and no characters that show as nothing
    (zero-width ones, Hangul fillers), with which two names that look the same are
    different and a blank one looks filled. A pattern rather than code, so the OpenAPI
    document states the rule too."""

    PATTERN = (
        r"^[^\x00-\x1f\x7f-\x9f"
        r"\u2028\u2029"  # line and paragraph separators
        r"\u061c\u200e\u200f"  # Arabic letter mark, left-to-right and right-to-left marks
        r"\u202a-\u202e"  # embeddings and overrides, and their end
        r"\u2066-\u2069"  # isolates, and their end
        r"\u200b-\u200d\u2060-\u2064\ufeff"  # zero-width: space, (non-)joiner, word joiner,
        # invisible operators, byte order mark
        r"\u115f\u1160\u3164\uffa0"  # Hangul fillers
        r"]*\Z"
    )

    def __init__(self) -> None:
        super().__init__(
            self.PATTERN, error="no control, invisible or bidirectional formatting characters"
        )


def field_messages(exc: ma.ValidationError) -> dict[str, list[str]]:
    """Field names with marshmallow's messages; never the offending value."""
    messages = exc.messages
    if not isinstance(messages, dict):
        return {"_schema": ["invalid"]}
    flat: dict[str, list[str]] = {}
    for name, detail in messages.items():
        items = detail if isinstance(detail, list) else []
        flat[str(name)] = [str(item) for item in items if isinstance(item, str)] or ["invalid"]
    return flat


def json_object(data: str | bytes) -> dict[str, Any] | None:
    """The JSON object in ``data``, or None if it holds anything else.

    orjson parses every frame and body (a ``send`` frame in a quarter of the standard
    library's time, docs/benchmarks.md), and is stricter where strictness is wanted:
    beyond "not JSON" and "not an object", None also for documents nested deeper than
    1,024 levels, for lone surrogates (``"\\ud800"`` is valid JSON but not text, and
    MongoDB, argon2 and the mailer cannot take it), for input that is not UTF-8, and for
    ``NaN``, ``Infinity`` or a number too large for a double. An integer beyond 64 bits
    is read as a float: strict integer fields refuse it, the others' ranges too.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def json_bytes(value: object) -> bytes:
    """``value`` as compact JSON, for every frame and fan-out event (orjson: an ack in
    about 0.3 µs where the standard library's best took 1.2, docs/benchmarks.md).

    Text is written as UTF-8 rather than ``\\u``-escaped, keys that are not strings as
    strings (as ``json.dumps`` would), ``NaN`` and the infinities as ``null`` (valid
    JSON, where ``json.dumps`` wrote ``NaN``). What the standard library refused still
    raises ``TypeError``, dataclasses and datetimes included, which orjson would
    otherwise write: a model record put in a frame by mistake must fail, not send every
    field it holds.
    """
    return orjson.dumps(value, default=_refuse, option=_WRITE_OPTIONS)


# Dataclasses and datetimes go to ``_refuse`` instead of being written.
_WRITE_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)


def _refuse(value: object) -> NoReturn:
    raise TypeError(f"{type(value).__name__} is not a JSON value here")
