"""docs/protocol.md states the same labels and limits as the code."""

from __future__ import annotations

from pathlib import Path

from e2e_crypto import domains
from e2e_crypto.attachments import CHUNK_BYTES
from e2e_crypto.wire import MAX_ENVELOPE_BYTES, MAX_RECIPIENTS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")


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
