"""Practice membership lists: signed by the admin's root key, numbered, chained."""

from __future__ import annotations

import pytest

from e2e_crypto.errors import MalformedData, VerificationFailed
from e2e_crypto.keys import RootKey
from e2e_crypto.membership import sign_membership
from e2e_crypto.membership_public import (
    GENESIS_DIGEST,
    Member,
    MemberRole,
    Membership,
    parse_membership,
    verify_membership,
    verify_membership_alone,
)

ADMIN = RootKey.generate()
DOCTOR = Member("doctor-bob", MemberRole.PRACTITIONER)
NURSE = Member("nurse-eve", MemberRole.STAFF)


def _sign(members: list[Member], previous: Membership | None, root: RootKey = ADMIN) -> Membership:
    return sign_membership(
        root,
        admin_account="practice-admin",
        practice_id="practice-1",
        members=members,
        previous=previous,
    )


def _verify(membership: Membership | bytes, previous: Membership | None) -> Membership:
    return verify_membership(
        membership,
        practice_id="practice-1",
        admin_account="practice-admin",
        admin_root_key=ADMIN.public_key,
        previous=previous,
    )


def test_lists_chain_and_round_trip() -> None:
    first = _sign([NURSE, DOCTOR], None)
    assert first.epoch == 1
    assert first.previous_digest == GENESIS_DIGEST
    assert first.members == (DOCTOR, NURSE)  # sorted: one encoding per membership
    second = _sign([DOCTOR], first)
    assert _verify(second.encode(), first).roles() == {"doctor-bob": MemberRole.PRACTITIONER}
    assert parse_membership(second.encode()) == second


def test_a_server_cannot_insert_replay_or_reorder() -> None:
    first = _sign([DOCTOR], None)
    second = _sign([DOCTOR, NURSE], first)
    # A list signed by any other key (the server's own, say).
    with pytest.raises(VerificationFailed):
        _verify(_sign([DOCTOR, NURSE], first, RootKey.generate()), first)
    # An extra member spliced into a signed list breaks its signature.
    forged = Membership(
        second.practice_id,
        second.epoch,
        second.admin_account,
        second.previous_digest,
        (DOCTOR, Member("ghost", MemberRole.STAFF), NURSE),
        second.signature,
    )
    with pytest.raises(VerificationFailed):
        _verify(forged, first)
    # An old list offered as the successor, or one skipping an epoch.
    with pytest.raises(VerificationFailed):
        _verify(first, second)
    with pytest.raises(VerificationFailed):
        _verify(_sign([DOCTOR], second), first)
    # Another practice's or admin's list.
    with pytest.raises(VerificationFailed):
        verify_membership(
            first,
            practice_id="practice-2",
            admin_account="practice-admin",
            admin_root_key=ADMIN.public_key,
            previous=None,
        )


def test_a_client_refuses_a_rollback() -> None:
    first = _sign([DOCTOR, NURSE], None)
    second = _sign([DOCTOR], first)

    def alone(membership: Membership, at_least: int) -> Membership:
        return verify_membership_alone(
            membership,
            practice_id="practice-1",
            admin_account="practice-admin",
            admin_root_key=ADMIN.public_key,
            at_least=at_least,
        )

    assert alone(second, 2) == second
    with pytest.raises(VerificationFailed):
        alone(first, 2)


def test_members_are_listed_once() -> None:
    with pytest.raises(MalformedData):
        _sign([DOCTOR, Member("doctor-bob", MemberRole.STAFF)], None)
