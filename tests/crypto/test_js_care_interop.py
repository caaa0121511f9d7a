"""The JavaScript twins of thread openings and membership lists
(e2e_crypto/js/carechat-care.mjs) against Python, both ways, and their refusals.

Runs ``node tests/crypto/js_care_driver.mjs``; like test_js_interop.py, a missing node
or node_modules fails these tests, it never skips them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e_crypto.errors import VerificationFailed
from e2e_crypto.keys import RootKey
from e2e_crypto.membership import sign_membership
from e2e_crypto.membership_public import (
    GENESIS_DIGEST,
    Member,
    MemberRole,
    verify_membership_alone,
)
from e2e_crypto.thread_opening import sign_opening
from e2e_crypto.thread_opening_public import ProviderKind, verify_opening

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("js_care_driver.mjs")


def run_js(*ops: dict[str, Any]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: install Node 20 (see README)"
    result = subprocess.run(
        [node, str(DRIVER)],
        input=json.dumps({"ops": list(ops)}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    results: list[dict[str, Any]] = json.loads(result.stdout)["results"]
    for r in results:
        assert "message" not in r, r["message"]  # a JS bug, not a crypto refusal
    return results


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


def test_openings_signed_in_python_verify_in_js_and_tampering_fails() -> None:
    root = RootKey.generate()
    opening = sign_opening(
        root,
        thread_id="thread-1",
        patient_account="patient-1",
        provider_kind=ProviderKind.PRACTICE,
        provider_id="practice-1",
        opened_at=1_764_000_000,
    ).encode()
    base = {
        "op": "verify_opening",
        "thread_id": "thread-1",
        "root_public": root.public_key.raw.hex(),
    }
    good, tampered, other_thread, other_key = run_js(
        {**base, "opening": opening.hex()},
        {**base, "opening": flip(opening, 12).hex()},
        {**base, "opening": opening.hex(), "thread_id": "thread-2"},
        {**base, "opening": opening.hex(), "root_public": RootKey.generate().public_key.raw.hex()},
    )
    assert good == {
        "ok": True,
        "parties": ["patient-1", "practice", "practice-1"],
        "opened_at": 1_764_000_000,
    }
    assert tampered["ok"] is False
    assert other_thread == {"ok": False, "error": "VerificationFailed"}
    assert other_key == {"ok": False, "error": "VerificationFailed"}


@pytest.mark.parametrize("kind", ["practitioner", "practice"])
def test_openings_signed_in_js_verify_in_python_byte_for_byte(kind: str) -> None:
    root = RootKey.generate()
    fields = {
        "thread_id": "AAAAAAAAAAAAAAAAAAAAAA",
        "patient_account": "patient-1",
        "provider_kind": kind,
        "provider_id": "provider-1",
        "opened_at": 1_764_000_123,
    }
    (signed,) = run_js({"op": "sign_opening", "root_seed": root.seed.hex(), **fields})
    encoded = bytes.fromhex(signed["opening"])
    opening = verify_opening(
        encoded, thread_id="AAAAAAAAAAAAAAAAAAAAAA", patient_root_key=root.public_key
    )
    assert opening.parties == ("patient-1", kind, "provider-1")
    # Ed25519 is deterministic: the same fields and key give the same bytes in Python.
    python = sign_opening(
        root,
        thread_id="AAAAAAAAAAAAAAAAAAAAAA",
        patient_account="patient-1",
        provider_kind=ProviderKind.from_label(kind),
        provider_id="provider-1",
        opened_at=1_764_000_123,
    )
    assert python.encode() == encoded


def test_membership_lists_both_ways_with_rollback_refused() -> None:
    admin = RootKey.generate()
    first = sign_membership(
        admin,
        admin_account="admin-1",
        practice_id="practice-1",
        members=[Member("gp-2", MemberRole.STAFF), Member("gp-1", MemberRole.PRACTITIONER)],
        previous=None,
    )
    base = {
        "op": "verify_membership",
        "practice_id": "practice-1",
        "admin_account": "admin-1",
        "root_public": admin.public_key.raw.hex(),
    }
    good, rolled_back, other_admin, tampered = run_js(
        {**base, "membership": first.encode().hex()},
        {**base, "membership": first.encode().hex(), "at_least": 2},
        {**base, "membership": first.encode().hex(), "admin_account": "admin-2"},
        {**base, "membership": flip(first.encode(), len(first.encode()) - 1).hex()},
    )
    assert good == {
        "ok": True,
        "epoch": 1,
        "digest": first.digest().hex(),
        "members": [["gp-1", "practitioner"], ["gp-2", "staff"]],
    }
    assert rolled_back == {"ok": False, "error": "VerificationFailed"}
    assert other_admin == {"ok": False, "error": "VerificationFailed"}
    assert tampered == {"ok": False, "error": "VerificationFailed"}

    (signed,) = run_js(
        {
            "op": "sign_membership",
            "root_seed": admin.seed.hex(),
            "practice_id": "practice-1",
            "epoch": 2,
            "admin_account": "admin-1",
            "previous_digest": first.digest().hex(),
            "members": [["gp-3", "practitioner"], ["gp-1", "practitioner"]],
        }
    )
    second = verify_membership_alone(
        bytes.fromhex(signed["membership"]),
        practice_id="practice-1",
        admin_account="admin-1",
        admin_root_key=admin.public_key,
        at_least=2,
    )
    assert [m.account_id for m in second.members] == ["gp-1", "gp-3"]
    assert second.previous_digest == first.digest()
    assert second.digest().hex() == signed["digest"]
    assert second.previous_digest != GENESIS_DIGEST
    with pytest.raises(VerificationFailed):
        verify_membership_alone(
            bytes.fromhex(signed["membership"]),
            practice_id="practice-1",
            admin_account="admin-1",
            admin_root_key=RootKey.generate().public_key,
        )
