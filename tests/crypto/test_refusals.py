"""Negative vectors (tests/data/refusals.json): every one is refused, by the rule it names.

The JavaScript twin runs the same cases in tests/crypto/test_js_interop.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e_crypto.attachments import decrypt_stream, parse_attachment_ref
from e2e_crypto.backup import open_backup
from e2e_crypto.envelope import open_message
from e2e_crypto.errors import DecryptionFailed, MalformedData
from e2e_crypto.wire import from_base64url, parse_envelope
from tests.crypto import vectors as v

REFUSALS = v.load("refusals")


def _name(case: dict[str, Any]) -> str:
    return str(case["name"])


@pytest.mark.parametrize("case", REFUSALS["envelope"]["cases"], ids=_name)
def test_envelope_refusals(case: dict[str, Any]) -> None:
    e = REFUSALS["envelope"]
    envelope = bytes.fromhex(case["envelope"])
    if case["structural"]:
        with pytest.raises(MalformedData):
            parse_envelope(envelope)
    else:
        parse_envelope(envelope)  # well-formed: only an opening check refuses it
    with pytest.raises(DecryptionFailed):
        open_message(
            envelope,
            opener=v.device_keys(e["opener"]["account_id"], e["opener"]["device_id"]),
            sender=v.verified(e["sender"]["account_id"], e["sender"]["device_id"]),
            thread_id=e["thread_id"],
            client_msg_id=e["client_msg_id"],
        )


@pytest.mark.parametrize("case", REFUSALS["base64url"], ids=_name)
def test_base64url_refusals(case: dict[str, Any]) -> None:
    with pytest.raises(MalformedData):
        from_base64url(case["text"])


@pytest.mark.parametrize("case", REFUSALS["attachment"]["cases"], ids=_name)
def test_attachment_refusals(case: dict[str, Any]) -> None:
    ref = parse_attachment_ref(bytes.fromhex(case["ref"]))
    with pytest.raises(DecryptionFailed):
        b"".join(decrypt_stream([v.refused_attachment(case)], ref))


@pytest.mark.parametrize("case", REFUSALS["backup"]["cases"], ids=_name)
def test_backup_refusals(case: dict[str, Any]) -> None:
    with pytest.raises(DecryptionFailed):
        open_backup(bytes.fromhex(case["blob"]), REFUSALS["backup"]["passphrase"])


def test_the_multi_chunk_attachment_vector_decrypts() -> None:
    a = v.load("attachment")["multi_chunk"]
    ciphertext = bytes.fromhex(a["ciphertext"])
    assert len(ciphertext) == a["ciphertext_size"]
    assert ciphertext[:24].hex() == a["stream_header"]
    plain = b"".join(decrypt_stream([ciphertext], parse_attachment_ref(bytes.fromhex(a["ref"]))))
    assert plain == bytes(i % 251 for i in range(a["size"]))
