"""Key backup under a recovery passphrase; a new device reads old messages."""

from __future__ import annotations

import pytest

from e2e_crypto.backup import MIN_MEMLIMIT_KIB, MIN_OPSLIMIT, open_backup, seal_backup
from e2e_crypto.envelope import open_message, seal_message
from e2e_crypto.errors import DecryptionFailed, MalformedData
from tests.crypto.people import Person

PASS = "violet anchor museum thirteen"
FAST = {"opslimit": MIN_OPSLIMIT, "memlimit_kib": MIN_MEMLIMIT_KIB}


def test_restore_on_a_new_device_reads_old_messages() -> None:
    alice, doctor = Person.new("alice-b", "old-phone"), Person.new("doc-b", "desk")
    old = seal_message(
        doctor.device,
        thread_id="t",
        client_msg_id="m",
        body=b"your results are fine",
        to_devices=[alice.verified()],
    )
    blob = seal_backup(alice.keys, PASS, **FAST)
    restored = open_backup(blob, PASS)  # on the new device: nothing but blob + passphrase
    assert restored.root.public_key == alice.keys.root.public_key
    opened = open_message(
        old,
        opener=restored.device("old-phone"),
        sender=doctor.verified(),
        thread_id="t",
        client_msg_id="m",
    )
    assert opened.body == b"your results are fine"


def test_wrong_passphrase_or_damaged_blob_is_one_error() -> None:
    alice = Person.new("alice-c", "p")
    blob = seal_backup(alice.keys, PASS, **FAST)
    with pytest.raises(DecryptionFailed):
        open_backup(blob, PASS + "x")
    for index in (0, 5, 8, 20, len(blob) - 1):  # magic, params, salt, ciphertext
        tampered = bytearray(blob)
        tampered[index] ^= 1
        with pytest.raises(DecryptionFailed):
            open_backup(bytes(tampered), PASS)


def test_parameters_are_stored_and_floored() -> None:
    alice = Person.new("alice-d", "p")
    with pytest.raises(MalformedData):
        seal_backup(alice.keys, PASS, opslimit=1, memlimit_kib=MIN_MEMLIMIT_KIB)
    with pytest.raises(MalformedData):
        seal_backup(alice.keys, PASS, opslimit=2, memlimit_kib=MIN_MEMLIMIT_KIB - 1)
    with pytest.raises(MalformedData):
        seal_backup(alice.keys, "too short")
    blob = seal_backup(alice.keys, PASS, opslimit=3, memlimit_kib=MIN_MEMLIMIT_KIB + 1024)
    assert blob[6:10] == (3).to_bytes(4, "big")
    assert open_backup(blob, PASS).account_id == "alice-d"


def test_passphrase_is_unicode_normalised() -> None:
    alice = Person.new("alice-e", "p")
    composed, decomposed = (
        "caf\u00e9 au lait, s'il vous pla\u00eet",
        "cafe\u0301 au lait, s'il vous pla\u00eet",
    )
    blob = seal_backup(alice.keys, composed, **FAST)
    assert open_backup(blob, decomposed).account_id == "alice-e"


def test_keys_never_print() -> None:
    alice = Person.new("alice-f", "p")
    text = repr(alice.keys) + repr(alice.device) + repr(alice.keys.root)
    assert alice.keys.root.seed.hex() not in text
    assert alice.device.encryption_secret.hex() not in text
