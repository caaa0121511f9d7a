"""Who a thread is between is the patient's signed word, pinned by every client.

The security review's proofs of concept: a server that rewrote a practice thread as a
"practitioner thread" with another patient as the practitioner, or named another
account as the patient, or pointed the thread at another practice, had clients encrypt
"HIV test result is positive" to that ghost. Here the patient's client signs a thread
opening with her root key; clients pin (patient, provider kind, provider id) per
thread and refuse any other, on her devices, her doctor's, and after restarts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.appkeys import HUB
from chat_server.clock import ManualClock
from e2e_crypto.client import (
    BadRequestError,
    CareChatClient,
    ConflictError,
    Event,
    Keystore,
    Provider,
    Receipt,
    RecipientsNotice,
    RootKeyChanged,
    TrustError,
    Typing,
    UntrustedMembership,
    UntrustedThread,
)
from e2e_crypto.keys import RootKey
from e2e_crypto.membership import sign_membership
from e2e_crypto.membership_public import Member, MemberRole
from e2e_crypto.thread_opening import sign_opening
from e2e_crypto.thread_opening_public import ProviderKind
from e2e_crypto.wire import from_base64url, to_base64url
from tests.sdk.conversation import nothing_more
from tests.sdk.people import PASSPHRASE, PASSWORD, People, link
from tests.sdk.test_ghosts import SECRET, Practice, _next_notice, _practice

Db = AsyncDatabase[dict[str, Any]]


async def _peer(db: Db, patient: str, provider: str, clock: ManualClock) -> None:
    """The (malicious) server lets the directory serve the ghost's keys."""
    await db["care_links"].insert_one(
        {
            "_id": "forged" + patient[:8],
            "patient_id": patient,
            "provider_kind": "practitioner",
            "provider_id": provider,
            "status": "active",
            "created_via": "request",
            "created_at": clock.now(),
            "updated_at": clock.now(),
        }
    )


async def _stored_messages(db: Db, thread_id: str) -> int:
    return await db["messages"].count_documents({"thread": thread_id})


async def test_a_practice_thread_rewritten_as_a_practitioners_is_refused(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    await p.ann.backup_keys(PASSPHRASE)
    await p.bob.connect()
    # The server rewrites Ann's practice thread as a "practitioner thread" with Bob.
    await db["threads"].update_one(
        {"_id": p.thread_id},
        {
            "$set": {
                "provider_kind": "practitioner",
                "provider_id": p.bob.account_id,
                "participants": [p.ann.account_id, p.bob.account_id],
                "roles": {p.ann.account_id: "patient", p.bob.account_id: "practitioner"},
            }
        },
    )
    await _peer(db, p.ann.account_id, p.bob.account_id, clock)
    clock.advance(60)  # past the server's open-thread cache

    with pytest.raises(UntrustedThread) as refused:
        await p.ann.participants(p.thread_id)
    assert refused.value.reason == "its patient or provider changed"
    await p.ann.connect()
    with pytest.raises(UntrustedThread):
        await p.ann.send(p.thread_id, SECRET)
    # Her new phone, keys restored from the backup, has no pin: the opening she
    # signed names the practice, and that refuses the rewrite too.
    phone = await people.another_device("ann@example.org", "ann-new-phone")
    with pytest.raises(UntrustedThread) as fresh:
        await phone.participants(p.thread_id)
    assert fresh.value.reason == "its patient signed an opening with other parties"
    await nothing_more(p.bob)
    assert await _stored_messages(db, p.thread_id) == 0


async def test_a_forged_patient_is_refused_by_the_provider_side(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    await p.bob.connect()
    # The server names Bob as "the patient" and drops Ann from the participants.
    await db["threads"].update_one(
        {"_id": p.thread_id},
        {
            "$set": {
                "patient_id": p.bob.account_id,
                "participants": [p.bob.account_id, p.doctor.account_id],
                "roles": {p.bob.account_id: "patient", p.doctor.account_id: "practitioner"},
            }
        },
    )
    await _peer(db, p.bob.account_id, p.doctor.account_id, clock)
    clock.advance(60)

    with pytest.raises(UntrustedThread):
        await p.doctor.participants(p.thread_id)
    await p.doctor.connect()
    with pytest.raises(UntrustedThread):
        await p.doctor.send(p.thread_id, SECRET)
    await nothing_more(p.bob)
    assert await _stored_messages(db, p.thread_id) == 0


async def test_the_pin_outlives_a_restart_even_against_a_colluding_patient(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    await p.doctor.participants(p.thread_id)  # verified once: pinned
    state = p.doctor.export_state()["keys"]
    # Bob colludes: he signs an opening of Ann's thread naming himself as the patient.
    forged = sign_opening(
        p.bob.keystore.root,
        thread_id=p.thread_id,
        patient_account=p.bob.account_id,
        provider_kind=ProviderKind.PRACTICE,
        provider_id=p.practice_id,
        opened_at=0,
    )
    await db["threads"].update_one(
        {"_id": p.thread_id},
        {
            "$set": {
                "patient_id": p.bob.account_id,
                "participants": [p.bob.account_id, p.doctor.account_id],
                "roles": {p.bob.account_id: "patient", p.doctor.account_id: "practitioner"},
                "opening": Binary(forged.encode()),
            }
        },
    )
    restarted = people.client()
    await restarted.login("doc@practice.example", PASSWORD)
    restarted.use_keys(Keystore.from_state(state))
    with pytest.raises(UntrustedThread) as refused:
        await restarted.participants(p.thread_id)
    assert refused.value.reason == "its patient or provider changed"


async def test_a_thread_without_the_patients_opening_is_refused(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    await db["threads"].update_one({"_id": p.thread_id}, {"$unset": {"opening": ""}})
    with pytest.raises(UntrustedThread) as refused:
        await p.doctor.participants(p.thread_id)
    assert refused.value.reason == "it has no opening signed by its patient"
    # Ann's own client pinned what she signed; the missing opening changes nothing.
    assert len(await p.ann.participants(p.thread_id)) == 2


async def test_another_practice_is_refused(people: People, db: Db, clock: ManualClock) -> None:
    p = await _practice(people, db, clock)
    await p.ann.backup_keys(PASSPHRASE)
    # A second, real practice, whose signed list names Eve.
    platform = people.client()
    await platform.login("root@carechat.example", "an operator's long password")
    other_admin = await people.join("admin@elsewhere.example", "practice_admin")
    eve = await people.join("eve@elsewhere.example", "practitioner")
    await platform.api.request(
        "POST", f"/api/v1/admin/accounts/{eve.account_id}/verify-registration"
    )
    other = str((await other_admin.api.create_practice("Elsewhere"))["practice_id"])
    await other_admin.api.propose_member(other, eve.account_id, "practitioner")
    await eve.api.accept_membership(other)
    await other_admin.publish_membership(other, {eve.account_id: "practitioner"})
    await eve.connect()
    # The server points Ann's thread at that practice.
    await db["threads"].update_one(
        {"_id": p.thread_id},
        {
            "$set": {
                "provider_id": other,
                "participants": [p.ann.account_id, eve.account_id],
                "roles": {p.ann.account_id: "patient", eve.account_id: "practitioner"},
            }
        },
    )
    await _peer(db, p.ann.account_id, eve.account_id, clock)
    clock.advance(60)
    await p.ann.connect()
    with pytest.raises(UntrustedThread):
        await p.ann.send(p.thread_id, SECRET)
    phone = await people.another_device("ann@example.org", "ann-new-phone")
    with pytest.raises(UntrustedThread):
        await phone.participants(p.thread_id)
    await nothing_more(eve)
    assert await _stored_messages(db, p.thread_id) == 0


async def test_the_server_checks_the_opening(people: People) -> None:
    ann = await people.join("ann@example.org", "patient")
    doc = await people.join("doc@example.org", "practitioner")
    await link(ann, doc)
    provider = Provider("practitioner", doc.account_id)

    def opening(key: RootKey, thread_id: str, provider_id: str) -> bytes:
        return sign_opening(
            key,
            thread_id=thread_id,
            patient_account=ann.account_id,
            provider_kind=ProviderKind.PRACTITIONER,
            provider_id=provider_id,
            opened_at=1,
        ).encode()

    mine, tid = ann.keystore.root, "T" * 22
    for bad in (
        opening(RootKey.generate(), tid, doc.account_id),  # not Ann's root key
        opening(mine, tid, ann.account_id),  # another provider than asked for
        opening(mine, tid, doc.account_id)[:-1],  # truncated
        opening(mine, "t-1", doc.account_id),  # a guessable thread id
    ):
        with pytest.raises(BadRequestError) as refused:
            await ann.api.create_thread(provider, opening=bad)
        assert refused.value.code == "invalid_thread_opening"
    good = opening(mine, tid, doc.account_id)
    thread = await ann.api.create_thread(provider, opening=good)
    assert thread.thread_id == tid
    assert thread.raw["opening"] == to_base64url(good)
    assert (await doc.thread(tid)).raw["opening"] == to_base64url(good)
    await ann.thread_action(tid, "close")
    with pytest.raises(ConflictError) as taken:
        await ann.api.create_thread(provider, opening=good)
    assert taken.value.code == "thread_id_taken"
    # The SDK signs, and the doctor's client verifies, with no help from the app.
    started = await ann.start_thread(provider)
    assert started.raw["opening"]
    assert {x.role for x in await doc.participants(started.thread_id)} == {
        "patient",
        "practitioner",
    }


async def test_recipients_changed_while_offline_are_announced(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    await p.ann.connect()  # learns the thread: Ann and her doctor
    state = p.ann.export_state()["keys"]
    await p.ann.close()

    nurse = await _consented_nurse(people, p)
    members = {p.doctor.account_id: "practitioner", nurse.account_id: "staff"}
    assert await p.admin.publish_membership(p.practice_id, members) == 2  # type: ignore[arg-type]

    restarted = people.client()
    await restarted.login("ann@example.org", PASSWORD)
    restarted.use_keys(Keystore.from_state(state))
    await restarted.connect()
    notice = await _next_notice(restarted)
    assert (notice.thread_id, notice.added, notice.removed) == (
        p.thread_id,
        (nurse.account_id,),
        (),
    )


async def test_a_notice_is_not_pushed_out_by_typing(
    people: People, db: Db, clock: ManualClock, server: TestServer
) -> None:
    p = await _practice(people, db, clock)
    await p.ann.connect()
    nurse = await _consented_nurse(people, p)
    members = {p.doctor.account_id: "practitioner", nurse.account_id: "staff"}
    await p.admin.publish_membership(p.practice_id, members)  # type: ignore[arg-type]
    # Then the server floods Ann with typing frames, then one receipt to end on.
    hub = server.app[HUB]
    for _ in range(12):
        for _ in range(100):
            await hub.deliver(
                [p.ann.account_id],
                {"t": "typing", "thread": p.thread_id, "account": p.doctor.account_id},
            )
        await asyncio.sleep(0.05)  # the server's send queue drains between bursts
    await hub.deliver(
        [p.ann.account_id],
        {"t": "receipt", "thread": p.thread_id, "account": p.doctor.account_id, "seq": 7},
    )
    seen: list[Event] = []

    async def until_the_receipt() -> None:
        async for event in p.ann.events():
            seen.append(event)
            if isinstance(event, Receipt):
                return

    async with asyncio.timeout(10):
        await until_the_receipt()
    notices = [e for e in seen if isinstance(e, RecipientsNotice)]
    assert [(n.added, n.removed) for n in notices] == [((nurse.account_id,), ())]
    assert sum(isinstance(e, Typing) for e in seen) <= 1000  # typing may be dropped


async def test_the_membership_cache_is_used_for_a_practice_thread(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    assert len(await p.ann.participants(p.thread_id)) == 2
    # The list now stored no longer parses: a client that refetched would refuse.
    await db["practices"].update_one(
        {"_id": p.practice_id}, {"$set": {"membership.list": Binary(b"\x01garbage")}}
    )
    assert len(await p.ann.participants(p.thread_id)) == 2


async def _consented_nurse(people: People, p: Practice) -> CareChatClient:
    nurse = await people.join("nurse@practice.example", "practitioner", "nurse-pc")
    await p.admin.api.propose_member(p.practice_id, nurse.account_id, "staff")
    await nurse.api.accept_membership(p.practice_id)
    return nurse


async def _restarted(people: People, email: str, state: dict[str, Any]) -> CareChatClient:
    sdk = people.client()
    await sdk.login(email, PASSWORD)
    sdk.use_keys(Keystore.from_state(state))
    return sdk


async def test_another_list_at_a_verified_epoch_is_refused(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    await p.ann.participants(p.thread_id)  # epoch 1 verified, its digest pinned
    state = p.ann.export_state()["keys"]
    # A second list at epoch 1, properly signed by the admin (a fork the server keeps).
    fork = sign_membership(
        p.admin.keystore.root,
        admin_account=p.admin.account_id,
        practice_id=p.practice_id,
        members=[Member(p.doctor.account_id, MemberRole.STAFF)],
        previous=None,
    )
    await db["practices"].update_one(
        {"_id": p.practice_id}, {"$set": {"membership.list": Binary(fork.encode())}}
    )
    with pytest.raises(UntrustedMembership) as refused:
        await (await _restarted(people, "ann@example.org", state)).participants(p.thread_id)
    assert refused.value.reason == "another list was verified at this epoch"


async def test_the_admin_does_not_sign_over_an_older_list(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    first = (await p.admin.api.membership(p.practice_id))["membership"]
    nurse = await _consented_nurse(people, p)
    members = {p.doctor.account_id: "practitioner", nurse.account_id: "staff"}
    assert await p.admin.publish_membership(p.practice_id, members) == 2  # type: ignore[arg-type]
    # The server serves the admin the first list again, as if epoch 2 never happened.
    await db["practices"].update_one(
        {"_id": p.practice_id}, {"$set": {"membership.list": Binary(from_base64url(first))}}
    )
    with pytest.raises(TrustError, match="older than one we published"):
        await p.admin.publish_membership(p.practice_id, {p.doctor.account_id: "practitioner"})


async def test_an_admin_with_a_new_root_key_still_publishes_and_patients_see_it(
    people: People, db: Db, clock: ManualClock
) -> None:
    p = await _practice(people, db, clock)
    await p.ann.participants(p.thread_id)  # pins the admin's root key
    ann_state = p.ann.export_state()["keys"]
    admin_state = p.admin.export_state()["keys"]
    # The admin lost her keys and starts a new identity (new root key, new device),
    # keeping the app's saved pins.
    saved = Keystore.from_state(admin_state)
    fresh = Keystore.create(p.admin.account_id, "admin-new-pc")
    pin = saved.practice_pin(p.practice_id)
    assert pin is not None
    fresh.pin_practice(p.practice_id, pin[0], pin[1], saved.practice_digest(p.practice_id))
    await p.admin.api.set_root_key(fresh.root.public_key.raw)
    await p.admin.api.add_device(fresh.certificate().encode())
    p.admin.use_keys(fresh)
    nurse = await _consented_nurse(people, p)
    members = {p.doctor.account_id: "practitioner", nurse.account_id: "staff"}
    assert await p.admin.publish_membership(p.practice_id, members) == 2  # type: ignore[arg-type]
    # Ann's client shows the admin's new identity like any root-key change.
    with pytest.raises(RootKeyChanged):
        await (await _restarted(people, "ann@example.org", ann_state)).participants(p.thread_id)


def test_keystore_states_saved_before_these_pins_still_load() -> None:
    keystore = Keystore.create("ann", "phone")
    keystore.pin_practice("practice-1", "admin", 3, bytes(32))
    keystore.pin_thread("thread-1", ("ann", "practice", "practice-1"))
    keystore.remember_recipients("thread-1", ("doc", "ann"))
    state = keystore.export_state()
    again = Keystore.from_state(state)
    assert again.practice_pin("practice-1") == ("admin", 3)
    assert again.practice_digest("practice-1") == bytes(32)
    assert again.thread_pin("thread-1") == ("ann", "practice", "practice-1")
    assert again.recipients("thread-1") == ("ann", "doc")
    with pytest.raises(ValueError, match="another list"):
        again.pin_practice("practice-1", "admin", 3, bytes([1]) * 32)
    with pytest.raises(ValueError, match="other parties"):
        again.pin_thread("thread-1", ("bob", "practice", "practice-1"))

    older = {k: v for k, v in state.items() if k not in ("threads", "recipients")}
    older["practices"] = {"practice-1": {"admin": "admin", "epoch": 3}}
    old = Keystore.from_state(older)
    assert old.practice_pin("practice-1") == ("admin", 3)
    assert old.practice_digest("practice-1") is None
    assert old.thread_pin("thread-1") is None
