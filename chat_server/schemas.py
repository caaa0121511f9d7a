"""Marshmallow pieces shared by the HTTP bodies and the WebSocket frames."""

from __future__ import annotations

import marshmallow as ma

# Opaque ids (accounts, devices, threads, client message ids): URL-safe, bounded.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def id_field(**kwargs: object) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Regexp(ID_PATTERN, error="an id"), **kwargs)  # type: ignore[arg-type]


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
