"""The JavaScript twin (e2e_crypto/js/carechat-e2e.mjs) against Python, both ways.

Runs ``node tests/crypto/js_driver.mjs``. Node and node_modules (``npm ci`` at the
repository root) are required: their absence FAILS these tests, it never skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from e2e_crypto.attachments import decrypt_stream, encrypt_stream, parse_attachment_ref
from e2e_crypto.backup import MIN_MEMLIMIT_KIB, MIN_OPSLIMIT, open_backup, seal_backup
from e2e_crypto.envelope import open_message, seal_message
from e2e_crypto.errors import DecryptionFailed
from e2e_crypto.groups import create_epoch_commit
from e2e_crypto.public import parse_device_certificate, verify_device_certificate
from e2e_crypto.safety import format_safety_number, safety_number
from e2e_crypto.socket_proof import sign_socket_proof
from e2e_crypto.socket_proof_public import verify_socket_proof
from e2e_crypto.wire import GroupRef, Kind, from_base64url
from tests.crypto import vectors as v
from tests.crypto.people import Person

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("js_driver.mjs")


def run_js(*ops: dict[str, Any]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: install Node 20 (see README)"
    assert (ROOT / "node_modules" / "libsodium-wrappers-sumo").is_dir(), (
        "run `npm ci` at the repo root"
    )
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


def _device_json(person: Person, device_id: str | None = None) -> dict[str, str]:
    d = person.keys.device(device_id) if device_id else person.device
    return {
        "account_id": d.account_id,
        "device_id": d.device_id,
        "encryption_secret": d.encryption_secret.hex(),
        "signing_seed": d.signing_seed.hex(),
    }


def _cert_json(person: Person, device_id: str | None = None) -> dict[str, str]:
    d = person.keys.device(device_id) if device_id else person.device
    return {
        "account_id": person.account_id,
        "certificate": person.keys.root.certify(d).encode().hex(),
        "root_public": person.keys.root.public_key.raw.hex(),
    }


def test_node_modules_match_the_pinned_version() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"][
        "libsodium-wrappers-sumo"
    ]
    installed = ROOT / "node_modules" / "libsodium-wrappers-sumo" / "package.json"
    assert installed.is_file(), "run `npm ci` at the repo root"
    assert json.loads(installed.read_text())["version"] == pinned


def test_vectors_in_js() -> None:
    p, e, g, b = v.load("primitives"), v.load("envelope"), v.load("group"), v.load("broadcast")
    s, f, a, k = v.load("safety"), v.load("franking"), v.load("attachment"), v.load("backup")
    sender = v.certificate_json(e["sender"]["account_id"], e["sender"]["device_id"])
    ops: list[dict[str, Any]] = [
        {"op": "primitives", **{x: p[x] for x in ("digest", "derive", "mac")}},
        *(
            {
                "op": "open_envelope",
                "envelope": e["envelope"],
                "sender": sender,
                "opener": v.device_json(o["account_id"], o["device_id"]),
                "thread_id": e["thread_id"],
                "client_msg_id": e["client_msg_id"],
            }
            for o in e["openers"]
        ),
        {
            "op": "open_envelope",
            "envelope": g["envelope"],
            "sender": v.certificate_json(g["sender"]["account_id"], g["sender"]["device_id"]),
            "epoch_opener": {
                "commits": g["commits"],
                "admin_account": g["admin_account"],
                "admin_root": v.account(g["admin_account"])["root_public"],
                "device": v.device_json(g["opener"]["account_id"], g["opener"]["device_id"]),
            },
            "thread_id": g["thread_id"],
            "client_msg_id": g["client_msg_id"],
            "group": g["group"],
        },
        {
            "op": "open_epoch_key",
            "commits": g["commits"],
            "admin_account": g["admin_account"],
            "admin_root": v.account(g["admin_account"])["root_public"],
            "device": v.device_json(g["removed"]["account_id"], g["removed"]["device_id"]),
        },
        *(
            {
                "op": "open_broadcast",
                "body": b["body"],
                "slip": sl["slip"],
                "opener": v.device_json(sl["account_id"], sl["device_id"]),
                "sender": v.certificate_json(b["sender"]["account_id"], b["sender"]["device_id"]),
                "campaign_id": b["campaign_id"],
                "client_msg_id": b["client_msg_id"],
            }
            for sl in b["slips"]
        ),
        {"op": "safety_number", "a": s["a"], "b": s["b"]},
        {
            "op": "franking_commitment",
            **{
                x: f[x]
                for x in (
                    "kind",
                    "franking_key",
                    "body",
                    "thread_id",
                    "client_msg_id",
                    "sender_account",
                    "sender_device",
                )
            },
        },
        {
            "op": "decrypt_attachment",
            "ciphertext": a["small"]["ciphertext"],
            "ref": a["small"]["ref"],
        },
        {"op": "open_backup", "blob": k["blob"], "passphrase": k["passphrase"]},
    ]
    results = run_js(*ops)
    assert all(r["ok"] for i, r in enumerate(results) if i != 4), results
    assert results[0] == {
        "ok": True,
        "digest": p["digest"]["out"],
        "derive": p["derive"]["out"],
        "mac": p["mac"]["out"],
    }
    assert [r["body"] for r in results[1:3]] == [e["body"], e["body"]]
    assert results[3]["body"] == g["body"]
    assert results[4] == {"ok": False, "error": "DecryptionFailed"}  # removed member
    assert [r["body"] for r in results[5:7]] == [b["body_plaintext"]] * 2
    assert results[7]["digits"] == s["digits"]
    assert results[8]["commitment"] == f["commitment"]
    assert results[9]["plaintext"] == bytes(i % 251 for i in range(100)).hex()
    assert results[10]["root_seed"] == v.account(k["account_id"])["root_seed"]


def test_js_franks_both_kinds_like_python() -> None:
    f = v.load("franking")
    base = {
        x: f[x]
        for x in (
            "franking_key",
            "body",
            "thread_id",
            "client_msg_id",
            "sender_account",
            "sender_device",
        )
    }
    message, broadcast, unknown = run_js(
        {"op": "franking_commitment", **base, "kind": "message"},
        {"op": "franking_commitment", **base, "kind": "broadcast"},
        {"op": "franking_commitment", **base, "kind": "constructor"},
    )
    assert message["commitment"] == f["commitment"]
    assert broadcast["commitment"] == f["broadcast"]["commitment"]
    # The negative vectors: neither kind's commitment is the other's.
    for case in f["negative"]:
        computed = broadcast if case["kind"] == "broadcast" else message
        assert computed["commitment"] != case["commitment"]
    assert unknown == {"ok": False, "error": "MalformedData"}


def test_python_seals_js_opens_and_refuses_tampering() -> None:
    alice, bob = Person.new("alice-js", "phone"), Person.new("bob-js", "desk")
    envelope = seal_message(
        alice.device,
        thread_id="t",
        client_msg_id="m",
        body="héllo ✓".encode(),
        to_devices=[bob.verified()],
    )
    tampered = bytearray(envelope)
    tampered[len(envelope) // 2] ^= 1
    base = {
        "op": "open_envelope",
        "sender": _cert_json(alice),
        "opener": _device_json(bob),
        "thread_id": "t",
        "client_msg_id": "m",
    }
    ok, bad, wrong_thread, stranger = run_js(
        {**base, "envelope": envelope.hex()},
        {**base, "envelope": bytes(tampered).hex()},
        {**base, "envelope": envelope.hex(), "thread_id": "t2"},
        {**base, "envelope": envelope.hex(), "opener": _device_json(Person.new("eve", "e1"))},
    )
    assert bytes.fromhex(ok["body"]).decode() == "héllo ✓"
    assert bad == wrong_thread == stranger == {"ok": False, "error": "DecryptionFailed"}


def test_js_opens_a_report_to_the_gp_kind() -> None:
    """Kind 3 (a report to the GP, checked against the patient's consent) parses in JS."""
    alice, bob = Person.new("alice-gp", "phone"), Person.new("bob-gp", "desk")
    envelope = seal_message(
        alice.device,
        thread_id="t",
        client_msg_id="m",
        body=b"report",
        to_devices=[bob.verified()],
        kind=Kind.REPORT_TO_GP,
    )
    [opened] = run_js(
        {
            "op": "open_envelope",
            "envelope": envelope.hex(),
            "sender": _cert_json(alice),
            "opener": _device_json(bob),
            "thread_id": "t",
            "client_msg_id": "m",
        }
    )
    assert opened["kind"] == int(Kind.REPORT_TO_GP)
    assert bytes.fromhex(opened["body"]) == b"report"


def test_js_seals_python_opens() -> None:
    alice, bob, gp = (
        Person.new("alice-j2", "phone"),
        Person.new("bob-j2", "desk"),
        Person.new("gp-j2", "g"),
    )
    commit, _ = create_epoch_commit(
        gp.keys.root,
        admin_account=gp.account_id,
        group_id="panel",
        members=[gp.verified(), bob.verified()],
        previous=None,
    )
    epoch = {
        "commits": [commit.encode().hex()],
        "admin_account": gp.account_id,
        "admin_root": gp.keys.root.public_key.raw.hex(),
    }
    sealed, cert = run_js(
        {
            "op": "seal_envelope",
            "sender": _device_json(alice),
            "thread_id": "q",
            "client_msg_id": "c1",
            "body": b"from js".hex(),
            "to": [_cert_json(bob), _cert_json(alice)],
            "to_epochs": [epoch],
            "group": {"group_id": "panel", "epoch": 1},
        },
        {"op": "certify", "root_seed": alice.keys.root.seed.hex(), "device": _device_json(alice)},
    )
    envelope = from_base64url(sealed["base64url"])
    assert envelope == bytes.fromhex(sealed["envelope"])
    for opener in (bob.device, alice.device):
        opened = open_message(
            envelope,
            opener=opener,
            sender=alice.verified(),
            thread_id="q",
            client_msg_id="c1",
            group=GroupRef("panel", 1),
        )
        assert opened.body == b"from js"
    assert parse_device_certificate(bytes.fromhex(cert["certificate"])) == alice.keys.root.certify(
        alice.device
    )
    verify_device_certificate(
        bytes.fromhex(cert["certificate"]),
        account_id=alice.account_id,
        root_key=alice.keys.root.public_key,
    )
    try:
        open_message(
            envelope,
            opener=bob.device,
            sender=alice.verified(),
            thread_id="q",
            client_msg_id="c1",
            group=None,
        )
    except DecryptionFailed:
        pass
    else:
        raise AssertionError("group binding not enforced")


def test_attachments_both_ways() -> None:
    data = os.urandom(2 * 65536 + 777)
    stream = encrypt_stream([data])
    python_ct = b"".join(stream)
    from_python, from_js = run_js(
        {
            "op": "decrypt_attachment",
            "ciphertext": python_ct.hex(),
            "ref": stream.ref.encode().hex(),
        },
        {"op": "encrypt_attachment", "plaintext": data.hex()},
    )
    assert bytes.fromhex(from_python["plaintext"]) == data
    ref = parse_attachment_ref(bytes.fromhex(from_js["ref"]))
    assert b"".join(decrypt_stream([bytes.fromhex(from_js["ciphertext"])], ref)) == data
    truncated = python_ct[: 24 + 2 * (65536 + 17)]
    (refused,) = run_js(
        {
            "op": "decrypt_attachment",
            "ciphertext": truncated.hex(),
            "ref": stream.ref.encode().hex(),
        }
    )
    assert refused == {"ok": False, "error": "DecryptionFailed"}


def test_backup_both_ways_and_safety_numbers() -> None:
    alice, bob = Person.new("alice-j3", "phone", "tablet"), Person.new("bob-j3", "desk")
    passphrase = "seven purple koalas dancing"
    blob = seal_backup(alice.keys, passphrase, opslimit=MIN_OPSLIMIT, memlimit_kib=MIN_MEMLIMIT_KIB)
    account = {
        "account_id": alice.account_id,
        "root_seed": alice.keys.root.seed.hex(),
        "devices": [_device_json(alice, d.device_id) for d in alice.keys.devices],
    }
    opened, sealed, wrong = run_js(
        {"op": "open_backup", "blob": blob.hex(), "passphrase": passphrase},
        {
            "op": "seal_backup",
            "account": account,
            "passphrase": passphrase,
            "opslimit": MIN_OPSLIMIT,
            "memlimit_kib": MIN_MEMLIMIT_KIB,
        },
        {"op": "open_backup", "blob": blob.hex(), "passphrase": passphrase + "!"},
    )
    (numbers,) = run_js(
        {
            "op": "safety_number",
            "a": {"account_id": bob.account_id, "root_public": bob.keys.root.public_key.raw.hex()},
            "b": {
                "account_id": alice.account_id,
                "root_public": alice.keys.root.public_key.raw.hex(),
            },
        }
    )
    expected = safety_number(
        alice.account_id, alice.keys.root.public_key, bob.account_id, bob.keys.root.public_key
    )
    assert numbers["digits"] == expected
    assert numbers["formatted"] == format_safety_number(expected)
    assert opened["root_seed"] == alice.keys.root.seed.hex()
    assert [d["device_id"] for d in opened["devices"]] == ["phone", "tablet"]
    restored = open_backup(bytes.fromhex(sealed["blob"]), passphrase)
    assert restored.devices == alice.keys.devices
    assert wrong == {"ok": False, "error": "DecryptionFailed"}


def test_base64url_rules_agree() -> None:
    texts = ["", "YWI", "YWI=", "YW+", "YR", "Y", "_-_-"]
    results = run_js(*({"op": "base64url", "text": t} for t in texts))
    for text, result in zip(texts, results, strict=True):
        try:
            expected: dict[str, Any] = {"ok": True, "bytes": from_base64url(text).hex()}
        except ValueError:
            expected = {"ok": True, "error": "MalformedData"}
        assert result == expected, text


def test_js_socket_proof_is_the_pythons_and_verifies() -> None:
    """The browser proves its device key in ``hello`` exactly as the SDK does (ADR 0004):
    Ed25519 is deterministic, so the two proofs are the same bytes."""
    ann = Person.new("ann", "ann-browser")
    ticket = "tkt_" + "x" * 40
    tickets = [ticket, "", "t" * 129, "bé"]
    results = run_js(
        *({"op": "socket_proof", "device": _device_json(ann), "ticket": t} for t in tickets)
    )
    proof = bytes.fromhex(results[0]["proof"])
    assert proof == sign_socket_proof(ann.device, ticket)
    verify_socket_proof(
        ann.device.signing_key,
        proof,
        account_id=ann.account_id,
        device_id=ann.device.device_id,
        ticket=ticket,
    )
    # Tickets Python refuses to sign over, JS refuses too.
    assert results[1:] == [{"ok": False, "error": "MalformedData"}] * 3


def test_refusal_vectors_in_js() -> None:
    """The JS twin refuses every negative vector too (tests/data/refusals.json)."""
    refusals = v.load("refusals")
    e = refusals["envelope"]
    sender = v.certificate_json(e["sender"]["account_id"], e["sender"]["device_id"])
    opener = v.device_json(e["opener"]["account_id"], e["opener"]["device_id"])
    envelopes = e["cases"]
    ops: list[dict[str, Any]] = [
        *(
            {
                "op": "open_envelope",
                "envelope": c["envelope"],
                "sender": sender,
                "opener": opener,
                "thread_id": e["thread_id"],
                "client_msg_id": e["client_msg_id"],
            }
            for c in envelopes
        ),
        *({"op": "parse_envelope", "envelope": c["envelope"]} for c in envelopes),
        *({"op": "base64url", "text": c["text"]} for c in refusals["base64url"]),
        *(
            {
                "op": "decrypt_attachment",
                "ciphertext": v.refused_attachment(c).hex(),
                "ref": c["ref"],
            }
            for c in refusals["attachment"]["cases"]
        ),
        *(
            {"op": "open_backup", "blob": c["blob"], "passphrase": refusals["backup"]["passphrase"]}
            for c in refusals["backup"]["cases"]
        ),
    ]
    results = iter(run_js(*ops))
    for c in envelopes:
        assert next(results) == {"ok": False, "error": "DecryptionFailed"}, c["name"]
    for c in envelopes:
        parsed = next(results)
        assert parsed["ok"] is not c["structural"], c["name"]
        if c["structural"]:
            assert parsed["error"] == "MalformedData", c["name"]
    for c in refusals["base64url"]:
        assert next(results) == {"error": "MalformedData", "ok": True}, c["name"]
    for c in [*refusals["attachment"]["cases"], *refusals["backup"]["cases"]]:
        assert next(results) == {"ok": False, "error": "DecryptionFailed"}, c["name"]


def test_multi_chunk_attachment_vector_in_js() -> None:
    a = v.load("attachment")["multi_chunk"]
    [result] = run_js({"op": "decrypt_attachment", "ciphertext": a["ciphertext"], "ref": a["ref"]})
    assert result["plaintext"] == bytes(i % 251 for i in range(a["size"])).hex()
