"""The victim's client never encrypts to a ghost participant.

The outside security test: a practice admin added a patient as staff, and that
patient decrypted another patient's "HIV test result is positive". Here the admin's
attempt is refused by the server; a server that inserts the ghost anyway (simulated
by writing to MongoDB behind the application's back) is caught by the patient's SDK,
which refuses to encrypt and tells the app who was added. A legitimate, consented
and signed change reaches the patient's thread as a visible notice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.admin import create_admin
from chat_server.clock import ManualClock
from e2e_crypto.client import (
    BadRequestError,
    CareChatClient,
    Event,
    GhostRecipient,
    Keystore,
    NotFoundError,
    Participant,
    Provider,
    RecipientsNotice,
    Text,
    Unreadable,
    UntrustedMembership,
)
from e2e_crypto.keys import RootKey
from e2e_crypto.membership import sign_membership
from e2e_crypto.membership_public import Member, MemberRole
from e2e_crypto.wire import from_base64url
from tests.sdk.conversation import nothing_more, take
from tests.sdk.people import PASSWORD, People

Db = AsyncDatabase[dict[str, Any]]
SECRET = "HIV test result is positive"


@dataclass
class Practice:
    admin: CareChatClient
    doctor: CareChatClient
    ann: CareChatClient
    bob: CareChatClient  # another patient: the would-be ghost
    practice_id: str
    thread_id: str


async def _practice(people: People, db: Db, clock: ManualClock) -> Practice:
    root_email, root_password = "root@carechat.example", "an operator's long password"
    await create_admin(db, clock, root_email, root_password)
    platform = people.client()
    await platform.login(root_email, root_password)
    admin = await people.join("admin@practice.example", "practice_admin", "admin-pc")
    doctor = await people.join("doc@practice.example", "practitioner", "doc-pc")
    await platform.api.request(
        "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration"
    )
    practice_id = str((await admin.api.create_practice("Cabinet Louise"))["practice_id"])
    await admin.api.propose_member(practice_id, doctor.account_id, "practitioner")
    await doctor.api.accept_membership(practice_id)
    assert await admin.publish_membership(practice_id, {doctor.account_id: "practitioner"}) == 1

    ann = await people.join("ann@example.org", "patient", "ann-phone")
    bob = await people.join("bob@example.org", "patient", "bob-phone")
    asked = await ann.api.request_care_link(Provider("practice", practice_id))
    await doctor.api.answer_care_link(asked["care_link_id"], accept=True)
    thread = await ann.start_thread(Provider("practice", practice_id))
    await doctor.thread_action(thread.thread_id, "accept")
    return Practice(admin, doctor, ann, bob, practice_id, thread.thread_id)


async def _next_notice(sdk: CareChatClient, within: float = 10.0) -> RecipientsNotice:
    async def first() -> RecipientsNotice:
        event: Event
        async for event in sdk.events():
            if isinstance(event, RecipientsNotice):
                return event
        raise AssertionError("events ended")

    async with asyncio.timeout(within):
        return await first()


async def test_the_admin_cannot_make_a_patient_staff(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    with pytest.raises(BadRequestError) as refused:
        await p.admin.api.propose_member(p.practice_id, p.bob.account_id, "staff")
    assert refused.value.code == "member_role_not_allowed"
    # By her e-mail address (the console's form), a patient is not even found.
    with pytest.raises(NotFoundError):
        await p.admin.api.propose_member_by_email(p.practice_id, "bob@example.org", "staff")
    # The admin names its people: the doctor, never the patient.
    people_named = await p.admin.api.practice_people(p.practice_id)
    assert [(x["display_name"], x["role"]) for x in people_named] == [
        ("admin", "admin"),
        ("doc", "practitioner"),
    ]
    assert await p.ann.participants(p.thread_id) == (
        Participant(p.ann.account_id, "ann", "patient"),
        Participant(p.doctor.account_id, "doc", "practitioner"),
    )


async def test_a_ghost_inserted_by_the_server_gets_nothing(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    for sdk in (p.ann, p.doctor, p.bob):
        await sdk.connect()  # Ann's client learns the thread: Ann and her doctor

    # The server adds Bob behind everyone's back: to the practice's staff and to the
    # thread's participants, so that its recipient check now demands Bob's devices.
    await db["practices"].update_one({"_id": p.practice_id}, {"$push": {"staff": p.bob.account_id}})
    await db["threads"].update_one(
        {"_id": p.thread_id},
        {"$push": {"participants": p.bob.account_id}},
    )
    with pytest.raises(GhostRecipient) as refused:
        await p.ann.send(p.thread_id, SECRET)
    assert refused.value.account_id == p.bob.account_id
    notice = await _next_notice(p.ann)
    assert (notice.thread_id, notice.added, notice.removed) == (
        p.thread_id,
        (p.bob.account_id,),
        (),
    )
    with pytest.raises(GhostRecipient):
        await p.ann.participants(p.thread_id)
    # Nothing was stored, so nothing reached Bob (or anyone).
    page = await p.doctor.api.messages(p.thread_id)
    assert page.messages == ()
    await nothing_more(p.bob)

    # A list the server signs itself, naming Bob, does not verify against the admin's
    # pinned root key either.
    forged = sign_membership(
        RootKey.generate(),
        admin_account=p.admin.account_id,
        practice_id=p.practice_id,
        members=[
            Member(p.doctor.account_id, MemberRole.PRACTITIONER),
            Member(p.bob.account_id, MemberRole.STAFF),
        ],
        previous=None,
    )
    await db["practices"].update_one(
        {"_id": p.practice_id},
        {"$set": {"membership.list": Binary(forged.encode()), "membership.epoch": 2}},
    )
    with pytest.raises(UntrustedMembership):
        await p.ann.participants(p.thread_id)
    with pytest.raises(UntrustedMembership):
        await p.ann.send(p.thread_id, SECRET)
    assert (await p.doctor.api.messages(p.thread_id)).messages == ()


async def test_a_consented_signed_member_joins_visibly(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    nurse = await people.join("nurse@practice.example", "practitioner", "nurse-pc")
    for sdk in (p.ann, nurse):
        await sdk.connect()
    assert await p.ann.send(p.thread_id, "Any news from the lab?") == 1

    await p.admin.api.propose_member(p.practice_id, nurse.account_id, "staff")
    offered = await nurse.api.membership_invitations()
    assert [(o["practice_id"], o["role"]) for o in offered] == [(p.practice_id, "staff")]
    await nurse.api.accept_membership(p.practice_id)
    # Accepted is not yet working there: only a signed list makes her a member.
    assert await nurse.api.own_practices() == []
    first_list = (await p.ann.api.membership(p.practice_id))["membership"]
    members: dict[str, Literal["practitioner", "staff"]] = {
        p.doctor.account_id: "practitioner",
        nurse.account_id: "staff",
    }
    assert await p.admin.publish_membership(p.practice_id, members) == 2
    assert [(o["practice_id"], o["roles"]) for o in await nurse.api.own_practices()] == [
        (p.practice_id, ["staff"])
    ]

    # The patient's thread now includes the nurse: never silently.
    notice = await _next_notice(p.ann)
    assert (notice.added, notice.removed) == ((nurse.account_id,), ())
    assert Participant(nurse.account_id, "nurse", "staff") in await p.ann.participants(p.thread_id)
    assert await p.ann.send(p.thread_id, "The nurse may read this") == 2
    # Sync hands the nurse the thread's history too, but what was sealed before she
    # joined was never encrypted to her.
    before, after = await take(nurse, 2)
    assert (before.seq, before.payload) == (1, Unreadable("does not decrypt"))
    assert (after.seq, after.payload) == (2, Text("The nurse may read this"))

    # A server that later serves the older list is refused, even by Ann's client
    # restarted from its saved state (the epoch is pinned in the keystore).
    state = p.ann.export_state()["keys"]
    await db["practices"].update_one(
        {"_id": p.practice_id}, {"$set": {"membership.list": Binary(from_base64url(first_list))}}
    )
    restarted = people.client()
    await restarted.login("ann@example.org", PASSWORD)
    restarted.use_keys(Keystore.from_state(state))
    with pytest.raises(UntrustedMembership):
        await restarted.participants(p.thread_id)
