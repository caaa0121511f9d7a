"""Patients and a practitioner exchange encrypted messages through the SDK."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from e2e_crypto.client import (
    BookingInvitation,
    ClosingSummary,
    ConflictError,
    NotFoundError,
    Payload,
    Receipt,
    RenewalRequest,
    ReportToGp,
    SessionRevoked,
    Text,
    ThreadChanged,
    Typing,
)
from tests.sdk.conversation import care_thread, nothing_more, take
from tests.sdk.people import PASSPHRASE, People


async def test_two_patients_and_their_doctor(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    bob = await people.join("bob@example.org", "patient", "bob-phone")
    ann_thread = await care_thread(ann, doctor)
    bob_thread = await care_thread(bob, doctor)
    for sdk in (doctor, ann, bob):
        await sdk.connect()

    seq = await ann.send(ann_thread, "My blood pressure is 150/95 this morning")
    assert seq == 1
    await bob.send(bob_thread, RenewalRequest("Salbutamol", "100 µg inhaler", "Apotheek Zuid"))
    got = {m.thread_id: m for m in await take(doctor, 2)}
    assert got[ann_thread].payload == Text("My blood pressure is 150/95 this morning")
    assert got[ann_thread].sender_account == ann.account_id
    assert got[ann_thread].sender_device == "ann-phone"
    assert got[ann_thread].at.tzinfo is not None
    assert got[bob_thread].payload == RenewalRequest(
        "Salbutamol", "100 µg inhaler", "Apotheek Zuid"
    )

    await doctor.send(ann_thread, "Please measure again tonight")
    await doctor.send(bob_thread, "Renewed, pick it up tomorrow")
    [to_ann] = await take(ann, 1)
    [to_bob] = await take(bob, 1)
    assert (to_ann.thread_id, to_ann.seq, to_ann.payload) == (
        ann_thread,
        2,
        Text("Please measure again tonight"),
    )
    assert to_bob.payload == Text("Renewed, pick it up tomorrow")
    await nothing_more(ann)  # Ann never receives Bob's conversation
    # A stranger's thread is the same as a missing one, through the SDK as well.
    with pytest.raises(NotFoundError):
        await ann.thread(bob_thread)
    with pytest.raises(NotFoundError):
        await ann.send(bob_thread, "hello?")


async def test_every_payload_type_survives_the_trip(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    from_ann: list[Payload] = [
        Text("Bonjour 👋"),
        RenewalRequest("Amlodipine", "5 mg", "Pharmacie du Parc", note="as usual"),
    ]
    from_doctor: list[Payload] = [
        BookingInvitation(
            "practitioner",
            "Dr Peeters",
            slots=(datetime(2026, 3, 2, 9, 30, tzinfo=UTC),),
            url="https://book.example/peeters",
            note="Tuesday morning?",
        ),
        ReportToGp("Hypertension follow-up; dose unchanged.", "Dr Janssens", "+3221234567"),
        ClosingSummary("Renewed for 3 months.", follow_up=None),
    ]
    for payload in from_ann:
        await ann.send(thread_id, payload)
    assert [m.payload for m in await take(doctor, len(from_ann))] == from_ann
    # A report to the GP goes only with the patient's consent (moderation/consents.py).
    await ann.consent("report_to_gp")
    for payload in from_doctor:
        await doctor.send(thread_id, payload)
    assert [m.payload for m in await take(ann, len(from_doctor))] == from_doctor
    # The history API returns the same, decrypted.
    history = [m.payload async for m in ann.history(thread_id)]
    assert history == from_ann + from_doctor


async def test_the_senders_other_device_receives_its_message(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann_phone = await people.join("ann@example.org", "patient", "ann-phone")
    await ann_phone.backup_keys(PASSPHRASE)
    ann_laptop = await people.another_device("ann@example.org", "ann-laptop")
    thread_id = await care_thread(ann_phone, doctor)
    for sdk in (doctor, ann_phone, ann_laptop):
        await sdk.connect()

    await ann_phone.send(thread_id, "sent from my phone")
    [on_laptop] = await take(ann_laptop, 1)
    [at_doctor] = await take(doctor, 1)
    assert on_laptop.payload == at_doctor.payload == Text("sent from my phone")
    assert on_laptop.sender_device == "ann-phone"
    await nothing_more(ann_phone)  # its own message is not handed back to the sender

    await doctor.send(thread_id, "to both of your devices")
    assert [m.payload for m in await take(ann_phone, 1)] == [Text("to both of your devices")]
    assert [m.payload for m in await take(ann_laptop, 1)] == [Text("to both of your devices")]


async def test_a_device_added_mid_conversation_is_picked_up(people: People) -> None:
    """The sender's cached device list is stale; the server answers
    recipients_changed and the SDK re-encrypts with the same client_msg_id."""
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    await ann.send(thread_id, "first")  # ann's directory now caches the doctor's devices
    await take(doctor, 1)

    await doctor.backup_keys(PASSPHRASE)
    doctor_laptop = await people.another_device("doc@example.org", "doc-laptop")
    await doctor_laptop.connect(history="new")
    await ann.send(thread_id, "second")
    # Only a recipients_changed answer makes the SDK refresh the doctor's devices.
    cached = await ann.directory.devices(doctor.account_id)
    assert {d.device_id for d in cached} == {"doc-pc", "doc-laptop"}
    assert [m.payload for m in await take(doctor_laptop, 1)] == [Text("second")]
    assert [m.payload for m in await take(doctor, 1)] == [Text("second")]


async def test_a_state_change_reaches_the_app_as_thread_changed(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await ann.connect()
    await doctor.thread_action(thread_id, "close")
    changed = None
    async with asyncio.timeout(5):
        async for event in ann.events():
            if isinstance(event, ThreadChanged):
                changed = event.thread
                break
    assert changed is not None
    assert (changed.thread_id, changed.state) == (thread_id, "closed")


async def test_state_errors_receipts_and_typing(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    seq = await ann.send(thread_id, "hello")
    await take(doctor, 1)
    await doctor.read(thread_id, seq)
    await doctor.typing(thread_id)
    seen: list[object] = []
    async with asyncio.timeout(5):
        async for event in ann.events():
            if isinstance(event, Receipt | Typing):
                seen.append(event)
            if len(seen) == 2:
                break
    assert Receipt(thread_id, doctor.account_id, seq) in seen
    assert Typing(thread_id, doctor.account_id) in seen

    closed = await doctor.thread_action(thread_id, "close")
    assert closed is not None
    assert closed.state == "closed"
    with pytest.raises(ConflictError) as refused:
        await ann.send(thread_id, "are you there?")
    assert refused.value.code == "thread_closed"


async def test_a_revoked_device_stops_with_session_revoked(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await ann.connect()
    await ann.api.revoke_device("ann-phone")
    with pytest.raises(SessionRevoked):
        async with asyncio.timeout(5):
            await ann.receive()
    with pytest.raises(SessionRevoked):
        await ann.send(thread_id, "still here?")
