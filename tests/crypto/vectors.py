"""Loading the committed known-answer vectors (tests/data/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import PublicSigningKey, VerifiedDevice, verify_device_certificate

DATA = Path(__file__).resolve().parent.parent / "data"


def load(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return result


def account(account_id: str) -> dict[str, Any]:
    for entry in load("accounts")["accounts"]:
        if entry["account_id"] == account_id:
            found: dict[str, Any] = entry
            return found
    raise KeyError(account_id)


def device_json(account_id: str, device_id: str) -> dict[str, Any]:
    for d in account(account_id)["devices"]:
        if d["device_id"] == device_id:
            found: dict[str, Any] = {**d, "account_id": account_id}
            return found
    raise KeyError(device_id)


def device_keys(account_id: str, device_id: str) -> DeviceKeys:
    d = device_json(account_id, device_id)
    return DeviceKeys(
        account_id,
        device_id,
        bytes.fromhex(d["encryption_secret"]),
        bytes.fromhex(d["signing_seed"]),
    )


def root_public(account_id: str) -> PublicSigningKey:
    return PublicSigningKey(bytes.fromhex(account(account_id)["root_public"]))


def verified(account_id: str, device_id: str) -> VerifiedDevice:
    cert = bytes.fromhex(device_json(account_id, device_id)["certificate"])
    return verify_device_certificate(cert, account_id=account_id, root_key=root_public(account_id))


def certificate_json(account_id: str, device_id: str) -> dict[str, str]:
    """How the JS driver receives a device to verify."""
    return {
        "account_id": account_id,
        "certificate": device_json(account_id, device_id)["certificate"],
        "root_public": account(account_id)["root_public"],
    }


def refused_attachment(case: dict[str, Any]) -> bytes:
    """A refusals.json attachment case's file, built from the multi-chunk vector's
    ciphertext as the case describes (slices, then one byte flipped)."""
    source = bytes.fromhex(load("attachment")["multi_chunk"]["ciphertext"])
    file = bytearray(b"".join(source[a:b] for a, b in case["slices"]))
    if "xor_byte_at" in case:
        file[case["xor_byte_at"]] ^= 1
    return bytes(file)
