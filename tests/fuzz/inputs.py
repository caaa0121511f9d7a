"""Hostile inputs for the parsers: JSON that is almost right, and text that is not JSON.

``ANY_TEXT`` includes lone surrogates (valid in JSON as ``\\ud800`` escapes, but not
encodable as UTF-8, so MongoDB, argon2 and ``str.encode`` refuse them), and the traps
list has what a JSON parser must survive: nesting deeper than Python's recursion
limit, numbers over ``int``'s digit limit, non-finite numbers, non-JSON literals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st

# Every code point, surrogates included (Hypothesis leaves them out by default).
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=24)

JSON_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    ANY_TEXT,
)

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)
    ),
    max_leaves=10,
)

# Each is a known way to break a JSON reader or what comes after it.
NOT_A_JSON_OBJECT = [
    "",
    " ",
    "nul",
    "{",
    '{"a":}',
    "[" * 5_000 + "]" * 5_000,  # deeper than the recursion limit
    '{"a":' * 3_000 + "1" + "}" * 3_000,
    "9" * 5_000,  # over int's 4,300-digit limit
    "1e999999",
    "NaN",
    "-Infinity",
    '"\\ud800"',
    "[]",
    "null",
    "true",
    "0",
    '"text"',
]
NESTED_TOO_DEEP = ['{"a":' * 3_000 + "1" + "}" * 3_000, '{"a":' + "[" * 5_000 + "]" * 5_000 + "}"]


def _dump(value: Any) -> str:
    # ensure_ascii: lone surrogates travel as escapes, as a hostile client would send.
    return json.dumps(value, ensure_ascii=True)


def shaped_objects(keys: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the right field names (and some wrong ones) holding anything."""
    names = st.sampled_from(list(keys)) | ANY_TEXT if keys else ANY_TEXT
    return st.dictionaries(names, JSON_VALUES, max_size=len(keys) + 2)


def json_documents(keys: Sequence[str]) -> st.SearchStrategy[str]:
    """Texts for a reader that expects a JSON object with ``keys``."""
    return st.one_of(
        st.sampled_from(NOT_A_JSON_OBJECT),
        st.sampled_from(NESTED_TOO_DEEP),
        JSON_VALUES.map(_dump),
        shaped_objects(keys).map(_dump),
        st.builds(
            lambda obj, depth: _dump(obj)[:-1] + ',"z":' + "[" * depth + "]" * depth + "}",
            shaped_objects(keys).filter(bool),
            st.integers(min_value=500, max_value=3_000),
        ),
    )


def surrogate_in_every_string(value: Any) -> Any:
    """``value`` with a lone surrogate appended to each string in it."""
    if isinstance(value, str):
        return value + "\ud800"
    if isinstance(value, list):
        return [surrogate_in_every_string(item) for item in value]
    if isinstance(value, dict):
        return {key: surrogate_in_every_string(item) for key, item in value.items()}
    return value


# Deterministic and leaves nothing behind: CI replays exactly the same inputs. The
# fixtures of a fuzz test (one app, its sockets) serve all of its examples.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


T = TypeVar("T")


def first(strategy: st.SearchStrategy[T]) -> T:
    """A deterministic example of ``strategy``, quickly (no shrinking towards the minimal)."""
    return find(
        strategy,
        lambda _: True,
        settings=settings(database=None, derandomize=True, phases=[Phase.generate]),
    )


def mutations(sample: bytes) -> st.SearchStrategy[bytes]:
    """Byte strings near ``sample``: flipped, cut (never to nothing), extended, spliced,
    or with four bytes (a length field, wherever it is) rewritten; never ``sample``."""
    size = len(sample)
    index = st.integers(min_value=0, max_value=size - 1)
    junk = st.binary(min_size=1, max_size=16)
    return st.one_of(
        st.builds(
            lambda i, d: sample[:i] + bytes([sample[i] ^ d]) + sample[i + 1 :],
            index,
            st.integers(min_value=1, max_value=255),
        ),
        st.builds(lambda cut: sample[:cut], st.integers(min_value=1, max_value=size - 1)),
        st.builds(lambda extra: sample + extra, junk),
        st.builds(lambda i, extra: sample[:i] + extra + sample[i:], index, junk),
        st.builds(lambda i, extra: sample[:i] + extra + sample[i + len(extra) :], index, junk),
        st.builds(
            lambda i, n: sample[:i] + n.to_bytes(4, "big") + sample[i + 4 :],
            st.integers(min_value=0, max_value=max(0, size - 4)),
            st.integers(min_value=0, max_value=2**32 - 1),
        ),
    ).filter(lambda mutated: mutated != sample)
