"""Frame types, their schemas and their handlers.

Every client frame is a JSON object ``{"type": ..., "id": ..., ...}``. The router parses
it in two steps — the common part, then the type's own marshmallow schema — and calls
the type's handler with the validated fields. Unknown types, unknown fields and bad
values become :class:`~chat_server.errors.ChatError`s, which the endpoint turns into
error frames; the handler itself never sees malformed input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import marshmallow as ma

from chat_server.errors import MalformedFrame, UnknownFrameType
from chat_server.schemas import field_messages, json_object
from chat_server.ws.hub import Connection, Frame

Handler = Callable[[Connection, dict[str, Any]], Awaitable[Frame | None]]

FRAME_ID = ma.fields.String(
    load_default=None, validate=ma.validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}\Z")
)


class _Head(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z_.]{1,32}\Z"))
    id = FRAME_ID


# Schemas hold no per-load state; building one costs more than a load.
_HEAD = _Head()


class FrameSchema(ma.Schema):
    """Base for each type's schema: unknown fields are refused, ``type``/``id`` allowed."""

    class Meta:
        unknown = ma.RAISE

    type = ma.fields.String(required=True)
    id = FRAME_ID


@dataclass(frozen=True, slots=True)
class Route:
    schema: ma.Schema
    handler: Handler
    authenticated: bool


class FrameRouter:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def add(
        self, frame_type: str, schema: ma.Schema, handler: Handler, *, authenticated: bool = True
    ) -> None:
        if frame_type in self._routes:
            raise ValueError(f"frame type {frame_type!r} registered twice")
        self._routes[frame_type] = Route(schema, handler, authenticated)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._routes)

    def parse(self, text: str) -> tuple[Route, dict[str, Any]]:
        raw = json_object(text)
        if raw is None:
            raise MalformedFrame("a frame is a JSON object")
        try:
            head = _HEAD.load(raw)
        except ma.ValidationError as exc:
            raise MalformedFrame(fields=field_messages(exc)) from None
        route = self._routes.get(head["type"])
        if route is None:
            raise UnknownFrameType(
                f"unknown frame type; expected one of: {', '.join(sorted(self._routes))}"
            )
        try:
            return route, route.schema.load(raw)
        except ma.ValidationError as exc:
            raise MalformedFrame(fields=field_messages(exc)) from None


def frame_id(text: str) -> str | None:
    """The ``id`` of a frame that failed validation, if one can be read safely."""
    raw = json_object(text)
    value = raw.get("id") if raw is not None else None
    try:
        return str(FRAME_ID.deserialize(value)) if isinstance(value, str) else None
    except ma.ValidationError:
        return None
