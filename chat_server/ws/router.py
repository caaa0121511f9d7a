"""Frame types, their schemas and their handlers.

Every client frame is a JSON object ``{"type": ..., "id": ..., ...}``. The router parses
it in two steps — the common part, then the type's own marshmallow schema — and returns
the type's :class:`FrameRoute` (from the table in ``chat_server/ws/frames.py``) with the
validated frame, typed as in :mod:`e2e_crypto.frames`. Unknown types, unknown fields and bad
values become :class:`~chat_server.errors.ChatError`s, which the endpoint turns into
error frames; the handler itself never sees malformed input. A handler that raises
:class:`DropFrame` gets no answer sent at all.

The frames sent about once per message (``send``, ``delivered``, ``read``) may have a
:func:`fast_loader`: plain checks that accept a subset of what the schema accepts, with
the same result, at a tenth of marshmallow's cost. Anything they do not accept goes
through the schema, so error messages come from one place.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import marshmallow as ma

from chat_server.errors import MalformedFrame, UnknownFrameType
from chat_server.schemas import field_messages
from chat_server.ws.context import FrameContext
from chat_server.ws.hub import Connection
from e2e_crypto.frames import AnswerFrame, ClientFrame

# Each handler takes its own frame type (``HelloFrame``, ...); the table's key says
# which, and tests/unit/test_frame_table.py checks that they agree.
Handler = Callable[[FrameContext, Connection, Any], Awaitable[AnswerFrame | None]]
FastLoad = Callable[[dict[str, Any]], ClientFrame | None]
Check = Callable[[object], bool]

FRAME_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}\Z"
FRAME_ID = ma.fields.String(load_default=None, validate=ma.validate.Regexp(FRAME_ID_PATTERN))
_frame_id_match = re.compile(FRAME_ID_PATTERN).match


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


def fast_loader(frame_type: str, **checks: Check) -> FastLoad:
    """A loader for ``frame_type`` with exactly the fields in ``checks`` (plus an
    optional ``id``): the frame as the schema would load it, or None if a check fails or
    a field is missing or extra. Its schema must accept everything this accepts."""
    names = frozenset(checks)
    allowed = names | {"type", "id"}

    def load(raw: dict[str, Any]) -> ClientFrame | None:
        if raw.get("type") != frame_type or not names <= raw.keys() <= allowed:
            return None
        fid = raw.get("id")
        if fid is not None and not (type(fid) is str and _frame_id_match(fid)):
            return None
        for name, check in checks.items():
            if not check(raw[name]):
                return None
        # Checked field by field above, as the schema would have.
        return cast(ClientFrame, {**raw, "id": fid})

    return load


class DropFrame(Exception):
    """Raised by a handler to drop its frame without any answer, not even the ``ok``
    a frame with an ``id`` otherwise gets: for frames over a silent rate limit
    (``typing``), where an answer would cost as much as the frame."""


@dataclass(frozen=True, slots=True)
class FrameRoute:
    """A frame type's schema (the definition), handler, and optional fast loader."""

    schema: ma.Schema
    handler: Handler
    authenticated: bool = True
    fast: FastLoad | None = None


class FrameRouter:
    def __init__(self, routes: Mapping[str, FrameRoute]) -> None:
        self._routes = dict(routes)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._routes)

    def route(self, frame_type: str) -> FrameRoute:
        return self._routes[frame_type]

    def parse(self, raw: dict[str, Any] | None) -> tuple[FrameRoute, ClientFrame]:
        """The route and validated frame, given its JSON object (None if the text was
        not one: see :func:`~chat_server.schemas.json_object`)."""
        if raw is None:
            raise MalformedFrame("a frame is a JSON object")
        kind = raw.get("type")
        route = self._routes.get(kind) if type(kind) is str else None
        if route is not None and route.fast is not None:
            fields = route.fast(raw)
            if fields is not None:
                return route, fields
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
            # The schema is the definition of the frame's TypedDict.
            return route, cast(ClientFrame, route.schema.load(raw))
        except ma.ValidationError as exc:
            raise MalformedFrame(fields=field_messages(exc)) from None


def frame_id(raw: dict[str, Any] | None) -> str | None:
    """The frame's ``id``, if it has a well-formed one: answers and errors echo it as
    ``re``, even for a frame that fails validation."""
    value = raw.get("id") if raw is not None else None
    return value if type(value) is str and _frame_id_match(value) else None
