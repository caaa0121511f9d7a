"""Reading what a request carries: JSON object bodies validated by a marshmallow schema,
and integer query parameters."""

from __future__ import annotations

import re
from typing import Any, overload

import marshmallow as ma
from aiohttp import web

from chat_server.errors import BadRequest, MalformedJson, TooLarge, UnsupportedMediaType
from chat_server.schemas import field_messages, json_object

_DIGITS = re.compile(r"[0-9]+")


async def read_json(request: web.Request, schema: ma.Schema) -> dict[str, Any]:
    """The validated body; every failure is a precise 4xx, never a 500."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    try:
        raw_bytes = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge("the body is over the size limit") from None
    raw = json_object(raw_bytes)
    if raw is None:
        raise MalformedJson()
    try:
        loaded: dict[str, Any] = schema.load(raw)
    except ma.ValidationError as exc:
        raise BadRequest(fields=field_messages(exc)) from None
    return loaded


@overload
def int_query(request: web.Request, name: str, *, default: int, maximum: int) -> int: ...
@overload
def int_query(request: web.Request, name: str, *, default: None, maximum: int) -> int | None: ...
def int_query(request: web.Request, name: str, *, default: int | None, maximum: int) -> int | None:
    """The query parameter ``name`` as an integer from 0 to ``maximum``, or ``default`` if
    it is absent; anything else is a 422.

    ASCII digits only (``str.isdigit`` takes "²", which ``int`` refuses), and the length is
    checked before ``int`` runs (it refuses more than 4,300 digits).
    """
    text = request.query.get(name)
    if text is None:
        return default
    digits = text.lstrip("0") or "0"
    if not _DIGITS.fullmatch(text) or len(digits) > len(str(maximum)) or int(digits) > maximum:
        raise BadRequest(fields={name: [f"an integer from 0 to {maximum}"]})
    return int(digits)
