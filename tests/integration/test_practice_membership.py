"""Ghost participants: a practice admin cannot make anyone a recipient of patients'
messages without that account's consent, a signature of the admin's root key, and
the patient seeing them.

Reproduces the outside security test: an admin adds a patient, an unconsenting
practitioner and itself to its practice; each is refused or made visible.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.storage.practices import EpochTaken, PracticeStore
from e2e_crypto.keys import RootKey
from e2e_crypto.membership import sign_membership
from e2e_crypto.membership_public import Member, MemberRole
from e2e_crypto.wire import to_base64url
from tests.actors import Actor, actor
from tests.practices import (
    create_practice,
    current_membership,
    join,
    platform_admin,
    publish,
    verify_registration,
)

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def _propose(admin: Actor, practice_id: str, member: Actor, role: str, expect: int) -> Any:
    return await admin.call(
        "POST",
        f"/api/v1/practices/{practice_id}/members",
        {"account_id": member.account_id, "role": role},
        expect=expect,
    )


async def _team(client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock) -> Any:
    """A practice with one verified, consenting practitioner, and a linked patient."""
    admin = await actor(client, outbox, "admin@practice.example", "practice_admin")
    doctor = await actor(client, outbox, "doc@practice.example", "practitioner")
    platform = await platform_admin(client, db, clock)
    await verify_registration(platform, doctor)
    practice_id = await create_practice(admin)
    await join(admin, practice_id, doctor)
    ann = await actor(client, outbox, "ann@example.org")
    link = await ann.call(
        "POST", "/api/v1/care-links", {"provider": {"kind": "practice", "id": practice_id}}, 201
    )
    await doctor.call("POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True})
    return admin, doctor, platform, practice_id, ann


async def _open_thread(patient: Actor, practice_id: str) -> Any:
    return await patient.call(
        "POST",
        "/api/v1/threads",
        {"kind": "care", "provider": {"kind": "practice", "id": practice_id}},
        expect=201,
    )


async def test_a_patient_can_never_be_staff(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, doctor, _, practice_id, ann = await _team(client, outbox, db, clock)
    bob = await actor(client, outbox, "bob@example.org")  # another patient
    for role in ("staff", "practitioner"):
        refused = await _propose(admin, practice_id, bob, role, expect=422)
        assert refused["code"] == "member_role_not_allowed"
    # Nor can a signed list slip the patient in without the proposal.
    refused = await publish(
        admin,
        practice_id,
        {doctor.account_id: "practitioner", bob.account_id: "staff"},
        expect=409,
    )
    assert refused["code"] == "member_not_consented"
    thread = await _open_thread(ann, practice_id)
    assert bob.account_id not in thread["participants"]
    assert sorted(thread["participants"]) == sorted([ann.account_id, doctor.account_id])


async def test_an_unconsenting_practitioner_is_not_a_participant(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, doctor, platform, practice_id, ann = await _team(client, outbox, db, clock)
    victim = await actor(client, outbox, "victim@example.org", "practitioner")
    await verify_registration(platform, victim)
    proposed = await _propose(admin, practice_id, victim, "practitioner", expect=200)
    assert {"account_id": victim.account_id, "role": "practitioner", "accepted": False} in (
        proposed["invitations"]
    )
    assert victim.account_id not in proposed["practitioners"]
    # The admin signs the victim in anyway: the server refuses the list.
    members = {doctor.account_id: "practitioner", victim.account_id: "practitioner"}
    refused = await publish(admin, practice_id, members, expect=409)
    assert refused["code"] == "member_not_consented"
    thread = await _open_thread(ann, practice_id)
    assert victim.account_id not in thread["participants"]

    # The victim sees the proposal, and only its own acceptance makes it signable.
    offered = await victim.call("GET", "/api/v1/practice-invitations")
    assert offered["invitations"] == [
        {
            "practice_id": practice_id,
            "name": "Dokterspraktijk Zuid",
            "admin": admin.account_id,
            "role": "practitioner",
            "accepted": False,
        }
    ]
    await victim.call("POST", f"/api/v1/practices/{practice_id}/membership/accept")
    published = await publish(admin, practice_id, members)
    assert published["epoch"] == 2
    # Consent can be withdrawn; the next list may no longer name the account.
    await victim.call("DELETE", f"/api/v1/practices/{practice_id}/membership/consent", expect=204)
    refused = await publish(admin, practice_id, members, expect=409)
    assert refused["code"] == "member_not_consented"


async def test_only_verified_practitioners_are_a_practices_practitioners(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, _, _, practice_id, _ = await _team(client, outbox, db, clock)
    unverified = await actor(client, outbox, "new@example.org", "practitioner")
    refused = await _propose(admin, practice_id, unverified, "practitioner", expect=409)
    assert refused["code"] == "registration_not_verified"
    # A practice admin account is not a practitioner.
    other_admin = await actor(client, outbox, "other@practice.example", "practice_admin")
    refused = await _propose(admin, practice_id, other_admin, "practitioner", expect=422)
    assert refused["code"] == "member_role_not_allowed"


async def test_an_admin_adding_itself_is_visible_to_the_patient(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, doctor, _, practice_id, ann = await _team(client, outbox, db, clock)
    await join(admin, practice_id, admin, "staff")
    thread = await _open_thread(ann, practice_id)
    assert admin.account_id in thread["participants"]
    summary = await ann.call("GET", f"/api/v1/threads/{thread['thread_id']}")
    assert sorted(summary["members"], key=lambda m: m["role"]) == [
        {"account_id": ann.account_id, "display_name": "ann", "role": "patient"},
        {"account_id": doctor.account_id, "display_name": "doc", "role": "practitioner"},
        {"account_id": admin.account_id, "display_name": "admin", "role": "staff"},
    ]
    listed = await ann.call("GET", "/api/v1/threads")
    assert listed["threads"][0]["members"] == summary["members"]
    # The patient sees the practice and its signed list: staff are not hidden.
    practice = await ann.call("GET", f"/api/v1/practices/{practice_id}")
    assert practice["staff"] == [admin.account_id]
    assert practice["practitioners"] == [doctor.account_id]
    membership = await current_membership(ann, practice_id)
    assert membership is not None
    assert membership.roles() == {
        admin.account_id: MemberRole.STAFF,
        doctor.account_id: MemberRole.PRACTITIONER,
    }


async def test_a_member_accepted_but_not_yet_signed_in_is_no_participant(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, doctor, _, practice_id, ann = await _team(client, outbox, db, clock)
    nurse = await actor(client, outbox, "nurse@practice.example", "practitioner")
    await _propose(admin, practice_id, nurse, "staff", expect=200)
    await nurse.call("POST", f"/api/v1/practices/{practice_id}/membership/accept")
    thread = await _open_thread(ann, practice_id)
    assert sorted(thread["participants"]) == sorted([ann.account_id, doctor.account_id])


async def test_membership_lists_must_be_signed_by_the_admin_root_key_and_numbered(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, doctor, _, practice_id, _ = await _team(client, outbox, db, clock)
    current = await current_membership(admin, practice_id)
    assert current is not None
    assert current.epoch == 1
    members = [Member(doctor.account_id, MemberRole.PRACTITIONER)]
    path = f"/api/v1/practices/{practice_id}/membership"

    async def put(root: RootKey, previous: Any, expect: int) -> Any:
        signed = sign_membership(
            root,
            admin_account=admin.account_id,
            practice_id=practice_id,
            members=members,
            previous=previous,
        )
        body = {"membership": to_base64url(signed.encode())}
        return await admin.call("PUT", path, body, expect=expect)

    # Signed by any other key (say, one the server made up): refused.
    assert (await put(RootKey.generate(), current, 422))["code"] == "invalid_signature"
    # Epoch 1 again (a replay of an older list): refused.
    assert (await put(admin.root, None, 409))["code"] == "membership_epoch_taken"
    # An epoch that does not chain to the stored list: refused.
    skipped = sign_membership(
        admin.root,
        admin_account=admin.account_id,
        practice_id=practice_id,
        members=members,
        previous=sign_membership(
            admin.root,
            admin_account=admin.account_id,
            practice_id=practice_id,
            members=[],
            previous=current,
        ),
    )
    body = {"membership": to_base64url(skipped.encode())}
    assert (await admin.call("PUT", path, body, expect=422))["code"] == "invalid_signature"
    # Garbage is a precise 422, never a 500.
    garbage = {"membership": to_base64url(b"\x01not a list")}
    assert (await admin.call("PUT", path, garbage, expect=422))["code"] == "invalid_signature"
    # Only the practice's admin publishes; a member gets the same 404 as a stranger.
    await doctor.call("PUT", path, body, expect=404)
    assert (await put(admin.root, current, 200))["epoch"] == 2


async def test_strangers_see_no_practice_and_no_membership(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    _, _, _, practice_id, _ = await _team(client, outbox, db, clock)
    eve = await actor(client, outbox, "eve@example.org")
    for path in (f"/api/v1/practices/{practice_id}/membership", f"/api/v1/practices/{practice_id}"):
        hidden = await eve.call("GET", path, expect=404)
        missing = await eve.call("GET", path.replace(practice_id, "A" * 22), expect=404)
        hidden.pop("request_id")
        missing.pop("request_id")
        assert hidden == missing
    await eve.call("POST", f"/api/v1/practices/{practice_id}/membership/accept", expect=404)


async def test_a_new_list_is_the_provider_side_of_live_threads(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, doctor, platform, practice_id, ann = await _team(client, outbox, db, clock)
    locum = await actor(client, outbox, "locum@example.org", "practitioner")
    await verify_registration(platform, locum)
    thread = await _open_thread(ann, practice_id)
    path = f"/api/v1/threads/{thread['thread_id']}"
    # An invitee may look at the practice before deciding.
    await _propose(admin, practice_id, locum, "practitioner", expect=200)
    seen = await locum.call("GET", f"/api/v1/practices/{practice_id}")
    assert seen["practitioners"] == [doctor.account_id]
    await locum.call("POST", f"/api/v1/practices/{practice_id}/membership/accept")
    # The doctor leaves and the locum joins: the open thread follows the signed list.
    await publish(admin, practice_id, {locum.account_id: "practitioner"})
    summary = await ann.call("GET", path)
    assert [(m["account_id"], m["role"]) for m in summary["members"]] == [
        (ann.account_id, "patient"),
        (locum.account_id, "practitioner"),
    ]
    await doctor.call("GET", path, expect=404)
    await locum.call("GET", path)


async def test_an_admin_without_a_root_key_cannot_publish(
    client: Client, outbox: MemoryOutbox
) -> None:
    admin = await actor(client, outbox, "admin@practice.example", "practice_admin")
    practice = await admin.call("POST", "/api/v1/practices", {"name": "Keyless"}, expect=201)
    signed = sign_membership(
        admin.root,
        admin_account=admin.account_id,
        practice_id=practice["practice_id"],
        members=[],
        previous=None,
    )
    refused = await admin.call(
        "PUT",
        f"/api/v1/practices/{practice['practice_id']}/membership",
        {"membership": to_base64url(signed.encode())},
        expect=409,
    )
    assert refused["code"] == "root_key_required"


async def test_members_without_a_signed_list_are_nobodys_recipients(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    admin = await actor(client, outbox, "admin@practice.example", "practice_admin")
    doctor = await actor(client, outbox, "doc@practice.example", "practitioner")
    practice_id = await create_practice(admin)
    # Staff written straight into the database (as before membership was signed).
    await db["practices"].update_one(
        {"_id": practice_id}, {"$set": {"staff": [admin.account_id, doctor.account_id]}}
    )
    ann = await actor(client, outbox, "ann@example.org")
    link = await ann.call(
        "POST", "/api/v1/care-links", {"provider": {"kind": "practice", "id": practice_id}}, 201
    )
    await doctor.call("POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True})
    thread = await _open_thread(ann, practice_id)
    assert thread["participants"] == [ann.account_id]


async def test_a_withdrawal_racing_a_publication_wins(db: Db, clock: ManualClock) -> None:
    # The handler checks consent, then stores; the store re-checks it in the same
    # conditional update, so a withdrawal in between is not overwritten.
    store = PracticeStore(db)
    await store.create("practice-1", "Race", "admin-1", clock.now())
    await store.invite("practice-1", "nurse-1", "staff")
    await store.accept("practice-1", "nurse-1", "staff")
    await store.withdraw("practice-1", "nurse-1")

    async def publish_list() -> Any:
        return await store.publish_membership(
            "practice-1",
            epoch=1,
            signed=b"list",
            digest=bytes(32),
            practitioners=[],
            staff=["nurse-1"],
            now=clock.now(),
        )

    with pytest.raises(EpochTaken):
        await publish_list()
    await store.invite("practice-1", "nurse-1", "staff")
    await store.accept("practice-1", "nurse-1", "staff")
    assert (await publish_list()).staff == ("nurse-1",)


async def test_the_admin_names_its_people_and_nobody_else_does(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, doctor, _, practice_id, ann = await _team(client, outbox, db, clock)
    nurse = await actor(client, outbox, "nurse@practice.example", "practice_admin")
    await _propose(admin, practice_id, nurse, "staff", expect=200)
    people = (await admin.call("GET", f"/api/v1/practices/{practice_id}/people"))["people"]
    assert people == [
        {"account_id": admin.account_id, "display_name": "admin", "role": "admin",
         "invitation": None},
        {"account_id": doctor.account_id, "display_name": "doc", "role": "practitioner",
         "invitation": {"role": "practitioner", "accepted": True}},
        {"account_id": nurse.account_id, "display_name": "nurse", "role": None,
         "invitation": {"role": "staff", "accepted": False}},
    ]  # fmt: skip
    # Not the members, invitees or linked patients: the same 404 as no practice.
    missing = await ann.call("GET", f"/api/v1/practices/{'A' * 22}/people", expect=404)
    for who in (doctor, nurse, ann):
        hidden = await who.call("GET", f"/api/v1/practices/{practice_id}/people", expect=404)
        assert hidden["code"] == missing["code"] == "not_found"


async def test_the_admin_proposes_a_role_by_email_but_finds_no_patient(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, _, _, practice_id, ann = await _team(client, outbox, db, clock)
    nurse = await actor(client, outbox, "nurse@practice.example", "practice_admin")
    members = f"/api/v1/practices/{practice_id}/members"
    proposed = await admin.call(
        "POST", members, {"email": "Nurse@Practice.example", "role": "staff"}
    )
    assert {"account_id": nurse.account_id, "role": "staff", "accepted": False} in proposed[
        "invitations"
    ]
    # A patient's address answers as an unused one: no directory of patients.
    as_patient = await admin.call("POST", members, {"email": ann.email, "role": "staff"}, 404)
    unused = await admin.call(
        "POST", members, {"email": "nobody@example.org", "role": "staff"}, 404
    )
    assert as_patient["code"] == unused["code"] == "not_found"
    # Only the practice's admins look addresses up.
    await nurse.call("POST", f"/api/v1/practices/{practice_id}/membership/accept")
    await ann.call("POST", members, {"email": nurse.email, "role": "staff"}, 404)
    # Exactly one of the two names the account.
    for body in (
        {"role": "staff"},
        {"account_id": nurse.account_id, "email": nurse.email, "role": "staff"},
    ):
        refused = await admin.call("POST", members, body, 422)
        assert refused["code"] == "validation_failed"
