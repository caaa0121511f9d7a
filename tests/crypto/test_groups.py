"""Group epochs: admin-signed membership chain; removed members lose later epochs."""

from __future__ import annotations

import pytest

from e2e_crypto.envelope import open_message, seal_message
from e2e_crypto.errors import CryptoError, DecryptionFailed, MalformedData, VerificationFailed
from e2e_crypto.groups import create_epoch_commit, open_epoch_key
from e2e_crypto.groups_public import EpochCommit, parse_epoch_commit, verify_epoch_commit
from tests.crypto.people import Person

ADMIN = Person.new("practice-admin", "a1")
GP1 = Person.new("dr-one", "g1")
GP2 = Person.new("dr-two", "g2")
PATIENT = Person.new("patient-z", "z1")


def _commit(members: list[Person], previous: EpochCommit | None) -> EpochCommit:
    commit, _ = create_epoch_commit(
        ADMIN.keys.root,
        admin_account=ADMIN.account_id,
        group_id="panel",
        members=[m.verified() for m in members],
        previous=previous,
    )
    return commit


def _verify(data: bytes, previous: EpochCommit | None) -> EpochCommit:
    return verify_epoch_commit(
        data,
        admin_account=ADMIN.account_id,
        admin_root_key=ADMIN.keys.root.public_key,
        previous=previous,
    )


E1 = _commit([ADMIN, GP1, GP2], None)
E2 = _commit([ADMIN, GP1], E1)  # GP2 removed


def test_chain_verifies_and_roundtrips() -> None:
    first = _verify(E1.encode(), None)
    assert first == E1 == parse_epoch_commit(E1.encode())
    assert _verify(E2.encode(), first).epoch == 2


def test_epoch_must_be_exactly_previous_plus_one() -> None:
    e3 = _commit([ADMIN], E2)
    with pytest.raises(VerificationFailed):
        _verify(e3.encode(), E1)  # skips epoch 2
    with pytest.raises(VerificationFailed):
        _verify(E2.encode(), None)  # not a genesis commit
    with pytest.raises(VerificationFailed):
        _verify(E1.encode(), E2)  # going backwards


def test_fork_with_same_epoch_number_does_not_chain() -> None:
    fork = _commit([ADMIN, GP2], E1)
    rival_e1 = _commit([ADMIN], None)
    with pytest.raises(VerificationFailed):
        _verify(fork.encode(), rival_e1)  # epoch 2 of another history


def test_only_the_admin_root_key_signs() -> None:
    forged, _ = create_epoch_commit(
        GP1.keys.root,
        admin_account=ADMIN.account_id,
        group_id="panel",
        members=[GP1.verified()],
        previous=None,
    )
    with pytest.raises(VerificationFailed):
        _verify(forged.encode(), None)
    with pytest.raises(VerificationFailed):
        verify_epoch_commit(
            E1.encode(),
            admin_account="someone-else",
            admin_root_key=ADMIN.keys.root.public_key,
            previous=None,
        )


def test_any_byte_change_breaks_the_commit() -> None:
    data = E1.encode()
    for index in range(0, len(data), 7):
        tampered = bytearray(data)
        tampered[index] ^= 0x40
        with pytest.raises(CryptoError):
            _verify(bytes(tampered), None)


def test_removed_member_cannot_open_later_epochs() -> None:
    assert open_epoch_key(E1, GP2.device).public_key == E1.epoch_key
    with pytest.raises(DecryptionFailed):
        open_epoch_key(E2, GP2.device)
    question = seal_message(
        PATIENT.device,
        thread_id="queue-1",
        client_msg_id="q1",
        body=b"question for the panel",
        to_devices=[PATIENT.verified()],
        to_epochs=[E2],
        group=E2.ref,
    )
    gp1_key = open_epoch_key(E2, GP1.device)
    opened = open_message(
        question,
        opener=gp1_key,
        sender=PATIENT.verified(),
        thread_id="queue-1",
        client_msg_id="q1",
        group=E2.ref,
    )
    assert opened.body == b"question for the panel"
    old_key = open_epoch_key(E1, GP2.device)
    with pytest.raises(DecryptionFailed):
        open_message(
            question,
            opener=old_key,
            sender=PATIENT.verified(),
            thread_id="queue-1",
            client_msg_id="q1",
            group=E2.ref,
        )


def test_a_wrapped_key_must_match_the_signed_epoch_key() -> None:
    _, other_key = create_epoch_commit(
        ADMIN.keys.root,
        admin_account=ADMIN.account_id,
        group_id="panel",
        members=[GP1.verified()],
        previous=None,
    )
    wraps = (E2.wraps[0], _seal(other_key.secret, GP1), *E2.wraps[2:])
    swapped = EpochCommit(
        E2.group_id,
        E2.epoch,
        E2.admin_account,
        E2.previous_digest,
        E2.epoch_key,
        E2.members,
        wraps,
        E2.signature,
    )
    with pytest.raises(DecryptionFailed):
        open_epoch_key(swapped, GP1.device)


def _seal(secret: bytes, person: Person) -> bytes:
    from e2e_crypto._randomness import SYSTEM

    return SYSTEM.seal(secret, person.device.encryption_key.raw)


def test_structural_limits() -> None:
    with pytest.raises(MalformedData):
        parse_epoch_commit(b"\x01")
    with pytest.raises(MalformedData):
        _commit([], None)
    with pytest.raises(MalformedData):
        parse_epoch_commit(E1.encode() + b"\x00")
