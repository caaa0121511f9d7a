"""Reading request bodies: JSON objects only, validated by a marshmallow schema."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from aiohttp import web

from chat_server.errors import BadRequest, MalformedJson, TooLarge, UnsupportedMediaType
from chat_server.schemas import field_messages


async def read_json(request: web.Request, schema: ma.Schema) -> dict[str, Any]:
    """The validated body; every failure is a precise 4xx, never a 500."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    try:
        raw_bytes = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge("the body is over the size limit") from None
    try:
        raw = json.loads(raw_bytes)
    except ValueError:
        raise MalformedJson() from None
    if not isinstance(raw, dict):
        raise MalformedJson()
    try:
        loaded: dict[str, Any] = schema.load(raw)
    except ma.ValidationError as exc:
        raise BadRequest(fields=field_messages(exc)) from None
    return loaded
