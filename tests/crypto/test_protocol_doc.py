"""docs/protocol.md states the same labels and limits as the code."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_crypto import domains
from e2e_crypto.attachments import CHUNK_BYTES
from e2e_crypto.wire import MAX_ENVELOPE_BYTES, MAX_RECIPIENTS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
DATA = ROOT / "tests" / "data"


def test_every_label_is_documented() -> None:
    for name in dir(domains):
        value = getattr(domains, name)
        if name.isupper() and isinstance(value, bytes):
            assert name in DOC, name
            text = value.rstrip(b"\x00").decode("ascii")
            assert f"`{text}`" in DOC, name


def test_limits_are_documented() -> None:
    assert f"{MAX_ENVELOPE_BYTES:,}" in DOC
    assert f"{MAX_RECIPIENTS} recipients" in DOC
    assert f"{CHUNK_BYTES:,}" in DOC
    # The server's half of the protocol follows the envelope format on the same page.
    assert "\n## WebSocket protocol\n" in DOC


def _field_paths(value: object, prefix: str = "") -> list[str]:
    """`a.b` for object fields, `a[].b` for fields of a list's elements; objects are
    documented through their fields."""
    paths: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(inner, dict):
                paths.append(prefix + key)
            paths += _field_paths(inner, prefix + key + ".")
    elif isinstance(value, list):
        for element in value:
            paths += _field_paths(element, prefix[:-1] + "[].")
    return paths


def test_every_vector_file_and_field_is_documented() -> None:
    section = DOC.split("## 11. Test vectors", 1)[1].split("## WebSocket protocol", 1)[0]
    for path in sorted(DATA.glob("*.json")):
        assert f"`{path.name}`" in section, path.name
        for field in set(_field_paths(json.loads(path.read_text(encoding="utf-8")))):
            # A list's own name is documented as `name[]`, its elements' fields in full.
            assert f"`{field}`" in section or f"`{field}[]`" in section, (path.name, field)


def test_the_associated_data_is_stated_to_be_the_bare_header() -> None:
    assert "the associated data is the **bare header bytes**" in DOC
    assert "`ad_with_length_prefix`" in DOC
