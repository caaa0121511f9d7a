"""The frame and event tables, their types and docs/protocol.md agree.

A reader follows a frame from its ``type`` to its handler through ``FRAMES``; these
tests keep that one hop honest: every registered type has a TypedDict whose ``type``
is that key, its handler takes exactly that TypedDict, and the protocol document lists
exactly the registered types. The same for fan-out events and their sinks.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest

from chat_server import events
from chat_server.ws.frames import FRAMES, SINKS, SINKS_AT_ONCE
from e2e_crypto import frames

DOCS = Path(__file__).parents[2] / "docs"
PROTOCOL = DOCS / "protocol.md"
ARCHITECTURE = DOCS / "architecture.md"


def _members(union: object) -> list[type]:
    assert get_origin(union) in (typing.Union, types.UnionType)
    return list(get_args(union))


def _tag(typed_dict: type, key: str) -> str:
    """The one value of a TypedDict's Literal tag field (``type`` or ``t``)."""
    hint = get_type_hints(typed_dict)[key]
    assert get_origin(hint) is Literal, f"{typed_dict.__name__}.{key} is not a Literal"
    (value,) = get_args(hint)
    assert isinstance(value, str)
    return value


def _by_tag(union: object, key: str) -> dict[str, type]:
    tagged: dict[str, type] = {}
    for member in _members(union):
        tag = _tag(member, key)
        assert tag not in tagged, f"two types tagged {tag!r}"
        tagged[tag] = member
    return tagged


def _takes(function: Callable[..., Any], name: str) -> object:
    return get_type_hints(function)[name]


CLIENT_TYPES = _by_tag(frames.ClientFrame, "type")
SERVER_TYPES = _by_tag(frames.ServerFrame, "type")
EVENT_TYPES = _by_tag(events.Event, "t")


def test_every_client_frame_type_is_registered_and_nothing_else() -> None:
    assert set(FRAMES) == set(CLIENT_TYPES)


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_a_frame_handler_takes_the_typed_dict_of_its_type(kind: str) -> None:
    handler = FRAMES[kind].handler
    assert _takes(handler, "frame") is CLIENT_TYPES[kind]
    # What it answers is one of the answer frames (or nothing: the endpoint says ok).
    answers = set(_members(frames.AnswerFrame)) | {type(None)}
    returned = _takes(handler, "return")
    assert set(get_args(returned) or (returned,)) <= answers


def test_every_event_kind_has_a_sink_and_nothing_else() -> None:
    assert set(SINKS) == set(EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_a_sink_takes_the_typed_dict_of_its_kind(kind: str) -> None:
    assert _takes(SINKS[kind], "event") is EVENT_TYPES[kind]


@pytest.mark.parametrize("kind", sorted(SINKS_AT_ONCE))
def test_an_at_once_sink_backs_a_sink_of_its_kind_and_takes_the_same_event(kind: str) -> None:
    assert kind in SINKS
    assert _takes(SINKS_AT_ONCE[kind], "event") is EVENT_TYPES[kind]
    assert _takes(SINKS_AT_ONCE[kind], "return") is bool


def _rows(doc: Path, heading: str) -> list[list[str]]:
    """The cells of the table rows under ``heading`` that name something in backticks."""
    section = doc.read_text().split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]
    return [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| `")]


def _names(cell: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", cell))


def _documented(heading: str) -> set[str]:
    """The backticked names in the first column of the protocol's table under ``heading``."""
    return {name for row in _rows(PROTOCOL, heading) for name in _names(row[0])}


def test_the_protocol_lists_exactly_the_registered_client_frames() -> None:
    assert _documented("### Client → server frames") == set(FRAMES)


def test_the_protocol_lists_exactly_the_server_frames() -> None:
    assert _documented("### Server → client frames") == set(SERVER_TYPES)


def test_the_architecture_tables_name_every_frame_handler_and_sink() -> None:
    rows = _rows(ARCHITECTURE, "### The wire: frame types and event kinds")
    # A frame row: type, TypedDict, handler, ...; an event row: kind, TypedDict, who, sink.
    documented = {
        (name, typed, row[2] if typed.endswith("Frame") else row[3])
        for row in rows
        for typed in [row[1].strip(" `")]
        for name in _names(row[0])
    }
    expected = {
        (kind, CLIENT_TYPES[kind].__name__, _where(route.handler)) for kind, route in FRAMES.items()
    } | {(kind, EVENT_TYPES[kind].__name__, _where(sink)) for kind, sink in SINKS.items()}
    assert documented == expected


def _where(function: Callable[..., Any]) -> str:
    """How the table names a function: `` `ws/session.py: hello` ``."""
    return f" `ws/{function.__module__.rsplit('.', 1)[1]}.py: {function.__name__}` "
