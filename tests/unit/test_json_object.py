"""``json_object``: the one reader of every WebSocket frame and HTTP body."""

from __future__ import annotations

import pytest

from chat_server.schemas import json_object


@pytest.mark.parametrize(
    "data",
    [
        '{"type":"send","seq":3}',
        b'{"type":"send","seq":3}',
        ' \n{"type":"send","seq":3}\t',
    ],
)
def test_an_object_reads_as_its_dict(data: str | bytes) -> None:
    assert json_object(data) == {"type": "send", "seq": 3}


def test_text_escapes_and_utf8_read_as_text() -> None:
    assert json_object('{"t":"\\u00e9\\ud83d\\ude00é"}') == {"t": "é\U0001f600é"}
    assert json_object('{"t":"é"}'.encode()) == {"t": "é"}


@pytest.mark.parametrize(
    "data",
    [
        "",
        "[]",
        '"text"',
        "3",
        "null",
        '{"a":1} {"b":2}',
        '{"a":1',
        '{"a":NaN}',
        '{"a":Infinity}',
        '{"a":-Infinity}',
        '{"a":1e400}',
        '{"a":"\\ud800"}',  # a lone surrogate: valid JSON, not text
        '{"a":"\\udc00\\ud800"}',
        b'{"a":"\xff"}',  # not UTF-8
        b'{"a":"\xed\xa0\x80"}',  # a surrogate encoded in UTF-8
        b'\xef\xbb\xbf{"a":1}',  # a byte-order mark
        '{"a":"\ud800"}',  # a lone surrogate in the text itself
        '{"a":' * 1025 + "1" + "}" * 1025,
    ],
)
def test_anything_else_is_none(data: str | bytes) -> None:
    assert json_object(data) is None


def test_nesting_up_to_the_limit_reads() -> None:
    depth = 1023
    value = json_object('{"a":' * depth + "1" + "}" * depth)
    for _ in range(depth - 1):
        assert isinstance(value, dict)
        value = value["a"]
    assert value == {"a": 1}


def test_an_integer_beyond_64_bits_reads_as_a_float() -> None:
    # No integer field takes a float: strict fields refuse it, the others' ranges too.
    assert json_object('{"seq":123456789012345678901234567890}') == {"seq": 1.2345678901234568e29}
    assert json_object('{"seq":18446744073709551615}') == {"seq": 2**64 - 1}
