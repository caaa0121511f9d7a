"""Regenerate the known-answer vectors in tests/data (client-only; test tooling).

    python -m e2e_crypto.vectors [output-directory]     # default: tests/data

Everything is derived from fixed seeds through the library's private deterministic
hooks (``SeededRandomness``), so the output is byte-for-byte stable: the test suite
rebuilds the vectors and compares them with the committed files, and the JavaScript
twin opens them. All byte strings are lowercase hex.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from e2e_crypto._randomness import SeededRandomness
from e2e_crypto.attachments import _encrypt_stream_with
from e2e_crypto.backup import MIN_MEMLIMIT_KIB, MIN_OPSLIMIT, _seal_backup
from e2e_crypto.broadcast import _seal_broadcast
from e2e_crypto.domains import (
    FRANKING_PERSON,
    KEY_COMMITMENT_PERSON,
    SAFETY_NUMBER_LABEL,
    derive,
    digest,
    mac,
)
from e2e_crypto.envelope import _seal_message
from e2e_crypto.franking import FrankingKind, franking_commitment, stamp
from e2e_crypto.groups import _create_epoch_commit
from e2e_crypto.keys import AccountKeys, DeviceKeys, RootKey
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.safety import safety_number
from e2e_crypto.wire import DeviceRecipient, Kind, to_base64url

__all__ = ["attachment_plaintext", "build_vectors", "main"]

_SEED_LABEL: Final = b"CareChat test-vector seeds"
# A published test-vector passphrase, deliberately not secret.
PASSPHRASE: Final = "correct horse battery staple, ñandú"  # noqa: S105


def _seed(name: str) -> bytes:
    return digest(_SEED_LABEL, name.encode("ascii"))


def attachment_plaintext(size: int) -> bytes:
    """The documented vector plaintext: byte i is i mod 251."""
    return bytes(i % 251 for i in range(size))


def _device(account: str, device: str) -> DeviceKeys:
    return DeviceKeys(
        account, device, _seed(f"{account}/{device}/x25519"), _seed(f"{account}/{device}/ed25519")
    )


def _account(account: str, devices: tuple[str, ...]) -> AccountKeys:
    return AccountKeys(
        account, RootKey(_seed(f"{account}/root")), tuple(_device(account, d) for d in devices)
    )


def _verified(keys: AccountKeys, device_id: str) -> VerifiedDevice:
    device = keys.device(device_id)
    return device.verified(keys.root.certify(device), keys.root.public_key)


def _account_json(keys: AccountKeys) -> dict[str, Any]:
    return {
        "account_id": keys.account_id,
        "root_seed": keys.root.seed.hex(),
        "root_public": keys.root.public_key.raw.hex(),
        "devices": [
            {
                "device_id": d.device_id,
                "encryption_secret": d.encryption_secret.hex(),
                "encryption_public": d.encryption_key.raw.hex(),
                "signing_seed": d.signing_seed.hex(),
                "signing_public": d.signing_key.raw.hex(),
                "certificate": keys.root.certify(d).encode().hex(),
            }
            for d in keys.devices
        ],
    }


def build_vectors() -> dict[str, dict[str, Any]]:
    """Every vector file, by name (without .json)."""
    alice = _account("patient-alice", ("phone", "laptop"))
    bob = _account("dr-bob", ("desk",))
    carol = _account("dr-carol", ("tablet",))
    alice_phone, bob_desk = _verified(alice, "phone"), _verified(bob, "desk")
    alice_laptop, carol_tablet = _verified(alice, "laptop"), _verified(carol, "tablet")
    accounts = {"accounts": [_account_json(a) for a in (alice, bob, carol)]}

    body = "Renewal: amoxicillin 500 mg, pharmacy Flagey. ✓".encode()
    recipients = tuple(
        DeviceRecipient(v.account_id, v.device_id, v.encryption_key)
        for v in (bob_desk, alice_laptop)
    )
    envelope = _seal_message(
        alice.device("phone"),
        "thread-42",
        "msg-0001",
        body,
        recipients,
        None,
        Kind.MESSAGE,
        SeededRandomness(b"envelope"),
    )
    commit1, _ = _create_epoch_commit(
        bob.root,
        "dr-bob",
        "panel-gp",
        (bob_desk, carol_tablet, alice_phone),
        None,
        SeededRandomness(b"epoch-1"),
    )
    commit2, _ = _create_epoch_commit(
        bob.root,
        "dr-bob",
        "panel-gp",
        (bob_desk, carol_tablet),
        commit1,
        SeededRandomness(b"epoch-2"),
    )
    group_body = b"Panel question: fever 39C for 3 days, no red flags."
    group_envelope = _seal_message(
        alice.device("phone"),
        "queue-7",
        "msg-0002",
        group_body,
        (
            DeviceRecipient(
                alice_laptop.account_id, alice_laptop.device_id, alice_laptop.encryption_key
            ),
            commit2.recipient,
        ),
        commit2.ref,
        Kind.MESSAGE,
        SeededRandomness(b"group-envelope"),
    )
    # The group rules (groups_public.check_group_envelope) must refuse these.
    alice_to_panel = (
        DeviceRecipient(
            alice_laptop.account_id, alice_laptop.device_id, alice_laptop.encryption_key
        ),
    )
    stale_epoch = _seal_message(
        alice.device("phone"),
        "queue-7",
        "msg-0003",
        group_body,
        (*alice_to_panel, commit1.recipient),
        commit1.ref,
        Kind.MESSAGE,
        SeededRandomness(b"group-stale-epoch"),
    )
    other_epoch_key = _seal_message(
        alice.device("phone"),
        "queue-7",
        "msg-0004",
        group_body,
        (*alice_to_panel, commit1.recipient),
        commit2.ref,
        Kind.MESSAGE,
        SeededRandomness(b"group-other-epoch-key"),
    )
    from_removed = _seal_message(
        alice.device("phone"),
        "queue-7",
        "msg-0005",
        group_body,
        (*alice_to_panel, commit2.recipient),
        commit2.ref,
        Kind.MESSAGE,
        SeededRandomness(b"group-from-removed"),
    )
    mailing = b"Flu vaccination for patients aged 65+: book now."
    sealed = _seal_broadcast(
        bob.device("desk"),
        "campaign-flu-2026",
        "mail-1",
        mailing,
        (alice_phone, carol_tablet),
        SeededRandomness(b"broadcast"),
    )
    small = attachment_plaintext(100)
    small_stream = _encrypt_stream_with([small], SeededRandomness(b"attachment-small"))
    small_ct = b"".join(small_stream)
    big = attachment_plaintext(65536 * 2 + 1000)
    big_stream = _encrypt_stream_with([big], SeededRandomness(b"attachment-big"))
    big_ct = b"".join(big_stream)
    backup = _seal_backup(
        alice, PASSPHRASE, MIN_OPSLIMIT, MIN_MEMLIMIT_KIB, SeededRandomness(b"backup")
    )
    franking_key = _seed("franking-key")
    franked = {
        "thread_id": "thread-42",
        "client_msg_id": "msg-0001",
        "sender_account": "patient-alice",
        "sender_device": "phone",
    }
    commitment = franking_commitment(franking_key, body, kind=FrankingKind.MESSAGE, **franked)
    # The same key, text and ids franked as a broadcast (thread-42 as the campaign id):
    # only the kind byte differs, and every value must differ with it.
    broadcast_commitment = franking_commitment(
        franking_key, body, kind=FrankingKind.BROADCAST, **franked
    )
    server_key = _seed("server-stamp-key")
    received_at = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
    message_stamp, broadcast_stamp = (
        stamp(
            server_key,
            kind=kind,
            franking_commitment=franked_as,
            sender_account="patient-alice",
            sender_device="phone",
            thread_id="thread-42",
            seq=17,
            received_at=received_at,
        )
        for kind, franked_as in (
            (FrankingKind.MESSAGE, commitment),
            (FrankingKind.BROADCAST, broadcast_commitment),
        )
    )
    return {
        "accounts": accounts,
        "primitives": {
            "digest": {
                "label": SAFETY_NUMBER_LABEL.decode(),
                "data": "616263",
                "out": digest(SAFETY_NUMBER_LABEL, b"abc").hex(),
            },
            "derive": {
                "secret": _seed("k").hex(),
                "person": KEY_COMMITMENT_PERSON.hex(),
                "out": derive(_seed("k"), KEY_COMMITMENT_PERSON).hex(),
            },
            "mac": {
                "secret": _seed("k").hex(),
                "person": FRANKING_PERSON.hex(),
                "data": "616263",
                "out": mac(_seed("k"), FRANKING_PERSON, b"abc").hex(),
            },
        },
        "envelope": {
            "sender": {"account_id": "patient-alice", "device_id": "phone"},
            "thread_id": "thread-42",
            "client_msg_id": "msg-0001",
            "openers": [
                {"account_id": "dr-bob", "device_id": "desk"},
                {"account_id": "patient-alice", "device_id": "laptop"},
            ],
            "body": body.hex(),
            "envelope": envelope.hex(),
            "envelope_base64url": to_base64url(envelope),
        },
        "group": {
            "admin_account": "dr-bob",
            "group_id": "panel-gp",
            "commits": [commit1.encode().hex(), commit2.encode().hex()],
            "removed": {"account_id": "patient-alice", "device_id": "phone", "from_epoch": 2},
            "envelope": group_envelope.hex(),
            "sender": {"account_id": "patient-alice", "device_id": "phone"},
            "thread_id": "queue-7",
            "client_msg_id": "msg-0002",
            "group": {"group_id": "panel-gp", "epoch": 2},
            "opener": {"account_id": "dr-carol", "device_id": "tablet"},
            "body": group_body.hex(),
            # check_group_envelope against the latest commit; "outsiders" are the
            # accounts the conversation admits besides the epoch's members (the
            # patient who asked the panel). The envelope above passes with them.
            "outsiders": ["patient-alice"],
            "refused": [
                {
                    "why": "stale_epoch",
                    "envelope": stale_epoch.hex(),
                    "outsiders": ["patient-alice"],
                },
                {
                    "why": "epoch_recipient_not_the_header_epoch",
                    "envelope": other_epoch_key.hex(),
                    "outsiders": ["patient-alice"],
                },
                {
                    "why": "sender_not_in_epoch",
                    "envelope": from_removed.hex(),
                    "outsiders": [],
                },
            ],
        },
        "broadcast": {
            "sender": {"account_id": "dr-bob", "device_id": "desk"},
            "campaign_id": "campaign-flu-2026",
            "client_msg_id": "mail-1",
            "body_plaintext": mailing.hex(),
            "body": sealed.body.hex(),
            "slips": [
                {"account_id": a, "device_id": d, "slip": s.hex()}
                for (a, d), s in sealed.slips.items()
            ],
        },
        "attachment": {
            "plaintext": "byte i is i mod 251",
            "small": {
                "size": 100,
                "ref": small_stream.ref.encode().hex(),
                "ciphertext": small_ct.hex(),
            },
            "multi_chunk": {
                "size": len(big),
                "ref": big_stream.ref.encode().hex(),
                "stream_header": big_ct[:24].hex(),
                "ciphertext_size": len(big_ct),
            },
        },
        "backup": {"passphrase": PASSPHRASE, "account_id": "patient-alice", "blob": backup.hex()},
        "franking": {
            "franking_key": franking_key.hex(),
            "body": body.hex(),
            "thread_id": "thread-42",
            "client_msg_id": "msg-0001",
            "sender_account": "patient-alice",
            "sender_device": "phone",
            "kind": "message",
            "commitment": commitment.hex(),
            "server_key": server_key.hex(),
            "seq": 17,
            "received_at_ms": 1772357415123,
            "stamp": message_stamp.hex(),
            "broadcast": {
                "kind": "broadcast",
                "commitment": broadcast_commitment.hex(),
                "stamp": broadcast_stamp.hex(),
            },
            # Each must fail: a value of one kind checked as the other kind.
            "negative": [
                {
                    "why": "a chat message's commitment taken for a broadcast's",
                    "kind": "broadcast",
                    "commitment": commitment.hex(),
                    "stamp": message_stamp.hex(),
                },
                {
                    "why": "a broadcast's commitment taken for a chat message's",
                    "kind": "message",
                    "commitment": broadcast_commitment.hex(),
                    "stamp": broadcast_stamp.hex(),
                },
            ],
        },
        "safety": {
            "a": {"account_id": "patient-alice", "root_public": alice.root.public_key.raw.hex()},
            "b": {"account_id": "dr-bob", "root_public": bob.root.public_key.raw.hex()},
            "digits": safety_number(
                "patient-alice", alice.root.public_key, "dr-bob", bob.root.public_key
            ),
        },
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "tests" / "data"
    out.mkdir(parents=True, exist_ok=True)
    for name, content in build_vectors().items():
        (out / f"{name}.json").write_text(render(content), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
