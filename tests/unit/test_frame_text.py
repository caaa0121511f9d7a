"""``frame_text`` (``json_bytes``, the one encoder every frame and fan-out event goes
through) writes compact JSON that reads back as the frame, text as UTF-8, and refuses
what JSON cannot hold and what is not a plain value."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from chat_server.schemas import json_bytes
from chat_server.ws.hub import frame_text

FRAMES: list[object] = [
    {"type": "ack", "thread": "t1", "seq": 3, "client_msg_id": "c1", "duplicate": False, "re": 7},
    {"type": "error", "re": None, "title": "Zu schnell \u00e9\u2028\U0001f600", "retry_after": 1.5},
    {"type": "synced", "threads": {"a": 1, "b": 2}, "more": True, "list": [1, [2, [3, {}]], []]},
    {"neg": -0.0, "big": 2**63, "small": -(2**63), "tiny": 1e-300},
    'a bare string \x00\x1f"\\',
    [],
]


@pytest.mark.parametrize("frame", FRAMES)
def test_frame_text_reads_back_as_the_frame(frame: object) -> None:
    text = frame_text(frame)
    assert json.loads(text) == frame
    # Compact, as json.dumps with separators writes it, but for \u escapes.
    assert text == json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def test_an_ack_is_exactly_the_compact_json() -> None:
    ack = {"type": "ack", "thread": "t1", "seq": 3, "client_msg_id": "c1", "duplicate": False}
    assert frame_text(ack) == (
        '{"type":"ack","thread":"t1","seq":3,"client_msg_id":"c1","duplicate":false}'
    )


def test_text_is_utf8_and_control_characters_are_escaped() -> None:
    text = frame_text({"title": 'é\U0001f600\n\x07"\\'})
    assert text == '{"title":"é\U0001f600\\n\\u0007\\"\\\\"}'
    assert text.encode("utf-8")  # no lone surrogate could have come out


def test_frames_agree_with_the_standard_library_on_random_values() -> None:
    rng = random.Random(19)
    alphabet = 'abc\u00e9\u4e2d\U0001f600\n"\\/\x07 '

    def value(depth: int) -> object:
        pick = rng.randrange(7 if depth < 3 else 4)
        if pick == 0:
            return rng.randint(-(2**40), 2**40)
        if pick == 1:
            return rng.random() * 10 ** rng.randint(-5, 5)
        if pick == 2:
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        if pick == 3:
            return rng.choice([None, True, False])
        if pick in (4, 5):
            return {
                f"k{i}{rng.choice(alphabet)}": value(depth + 1) for i in range(rng.randint(0, 4))
            }
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    for _ in range(500):
        frame = value(0)
        assert json.loads(frame_text(frame)) == frame


def test_keys_that_are_not_strings_are_written_as_strings() -> None:
    assert frame_text({1: "one", "two": 2}) == '{"1":"one","two":2}'


def test_nan_and_infinity_are_written_as_null() -> None:
    # json.dumps would write NaN and Infinity, which no JSON parser has to accept.
    assert frame_text({"nan": float("nan"), "inf": float("-inf")}) == '{"nan":null,"inf":null}'


@dataclass
class _Record:
    account_id: str
    password_hash: str


@pytest.mark.parametrize(
    "value",
    [
        object(),
        2**64,
        -(2**63) - 1,
        {1, 2},
        # orjson would write these; a model record in a frame by mistake must fail.
        _Record("acc", "$argon2id$..."),
        datetime.now(UTC),
        date(2026, 11, 30),
    ],
)
def test_what_json_cannot_hold_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        frame_text({"type": "x", "value": value})
    with pytest.raises(TypeError):
        json_bytes({"o": "origin", "e": {"t": "msg", "value": value}})  # a fan-out event
    # The refusal left nothing behind: the next frame encodes as usual.
    assert frame_text({"type": "pong"}) == '{"type":"pong"}'
