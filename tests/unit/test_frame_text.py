"""``frame_text`` (the one C encoder every frame goes through) writes what
``json.dumps(frame, separators=(",", ":"))`` writes, and refuses what it refuses."""

from __future__ import annotations

import json
import random

import pytest

from chat_server.ws.hub import frame_text

FRAMES: list[object] = [
    {"type": "ack", "thread": "t1", "seq": 3, "client_msg_id": "c1", "duplicate": False, "re": 7},
    {"type": "error", "re": None, "title": "Zu schnell \u00e9\u2028\U0001f600", "retry_after": 1.5},
    {"type": "synced", "threads": {"a": 1, "b": 2}, "more": True, "list": [1, [2, [3, {}]], []]},
    {"nan": float("nan"), "inf": float("inf"), "big": 2**70, "neg": -0.0, 1: "int key"},
    'a bare string \x00\x1f"\\',
    [],
]


@pytest.mark.parametrize("frame", FRAMES)
def test_frame_text_is_json_dumps(frame: object) -> None:
    assert frame_text(frame) == json.dumps(frame, separators=(",", ":"))


def test_frame_text_agrees_on_random_frames() -> None:
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
        assert frame_text(frame) == json.dumps(frame, separators=(",", ":"))


def test_what_json_cannot_write_is_refused() -> None:
    with pytest.raises(TypeError):
        frame_text({"type": "x", "value": object()})
    # The refusal left nothing behind: the next frame encodes as usual.
    assert frame_text({"type": "pong"}) == '{"type":"pong"}'
