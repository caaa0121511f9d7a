"""The hand-written loaders of the hot frames agree with their marshmallow schemas.

For any frame-shaped object a fast loader either declines (None: the schema then
decides, and words the error) or returns exactly what the schema loads. Well-formed
frames must take the fast path, or it saves nothing.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.schemas import ID_PATTERN, json_object
from chat_server.ws.frames import FRAMES
from chat_server.ws.router import FRAME_ID_PATTERN, FrameRoute, frame_id
from e2e_crypto.wire import MAX_ENVELOPE_B64_CHARS
from tests.fuzz.inputs import FUZZ, JSON_VALUES

ROUTES = FRAMES
FAST = sorted(kind for kind, route in ROUTES.items() if route.fast is not None)

IDS = st.from_regex(re.compile(ID_PATTERN.removeprefix("^").removesuffix(r"\Z")), fullmatch=True)
FRAME_IDS = st.from_regex(
    re.compile(FRAME_ID_PATTERN.removeprefix("^").removesuffix(r"\Z")), fullmatch=True
)
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "thread": IDS,
    "client_msg_id": IDS,
    "envelope": st.text(alphabet="AZaz09-_", min_size=1, max_size=64)
    | st.just("A" * MAX_ENVELOPE_B64_CHARS),
    "seq": st.integers(min_value=0, max_value=2**53),
}
# Just past each limit, and the values Python equates: True == 1, 1.0 == 1.
EDGES = st.sampled_from(
    [
        True,
        False,
        -1,
        2**53 + 1,
        1.0,
        "",
        "a\n",
        "a b",
        "x" * 65,
        None,
        "A" * (MAX_ENVELOPE_B64_CHARS + 1),
    ]
)


def _good(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    names = ("thread", "client_msg_id", "envelope") if kind == "send" else ("thread", "seq")
    return st.fixed_dictionaries(
        {"type": st.just(kind), **{name: GOOD[name] for name in names}},
        optional={"id": FRAME_IDS | st.none()},
    )


@st.composite
def _near(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A well-formed frame with one thing changed: a value, a missing or an extra field."""
    frame = draw(_good(kind))
    name = draw(st.sampled_from([*frame, "id", "extra"]))
    change = draw(st.sampled_from(["value", "drop"]))
    if change == "drop":
        frame.pop(name, None)
    else:
        frame[name] = draw(EDGES | JSON_VALUES)
    return frame


def _schema_load(route: FrameRoute, raw: dict[str, Any]) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = route.schema.load(raw)
    except ma.ValidationError:
        return None
    return loaded


@pytest.mark.parametrize("kind", FAST)
@settings(FUZZ, max_examples=600)  # a pure function: cheap examples
@given(data=st.data())
def test_a_fast_loader_accepts_only_what_its_schema_loads(kind: str, data: st.DataObject) -> None:
    route = ROUTES[kind]
    assert route.fast is not None
    raw = data.draw(_near(kind))
    fast = route.fast(raw)
    if fast is not None:
        assert fast == _schema_load(route, raw)


@pytest.mark.parametrize("kind", FAST)
@FUZZ
@given(data=st.data())
def test_well_formed_hot_frames_take_the_fast_path(kind: str, data: st.DataObject) -> None:
    route = ROUTES[kind]
    assert route.fast is not None
    raw = data.draw(_good(kind))
    assert route.fast(raw) == _schema_load(route, raw) is not None


def test_the_hot_frames_have_fast_loaders() -> None:
    assert FAST == ["delivered", "read", "send"]


@pytest.mark.parametrize(
    "text",
    ['{"id":"\\ud800"}', '{"id":"\\uDFFF"}', b'{"id":"\xed\xa0\x80"}', '{"\\ud83d":1}'],
)
def test_lone_surrogates_are_refused_escaped_or_raw(text: str | bytes) -> None:
    assert json_object(text) is None


def test_an_id_is_echoed_only_when_well_formed() -> None:
    assert frame_id({"id": "a.b:c-1"}) == "a.b:c-1"
    assert frame_id({"id": "a b"}) is None
    assert frame_id({"id": 7}) is None
    assert frame_id(None) is None
