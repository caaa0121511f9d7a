"""Disconnects: nothing lost, nothing duplicated, on the receiving and the sending side."""

from __future__ import annotations

import asyncio

from e2e_crypto.client import CareChatClient, Text
from tests.sdk.conversation import care_thread, nothing_more, take
from tests.sdk.network import Blackout
from tests.sdk.people import PASSWORD, People


async def _via(people: People, relay: Blackout, email: str, who: CareChatClient) -> CareChatClient:
    """The same device (same keys) reaching the server through ``relay``."""
    sdk = people.client(relay.url)
    await sdk.login(email, PASSWORD)
    sdk.use_keys(who.keystore)
    return sdk


async def test_a_receiver_that_loses_its_link_gets_every_message_once(
    people: People, blackout: Blackout
) -> None:
    doctor_direct = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor_direct)
    doctor = await _via(people, blackout, "doc@example.org", doctor_direct)
    await doctor.connect()
    await ann.connect()
    await ann.send(thread_id, "m1")
    assert [m.payload for m in await take(doctor, 1)] == [Text("m1")]

    assert blackout.go_down() >= 1  # the doctor's socket dies without a close frame
    sent = [await ann.send(thread_id, f"m{i}") for i in range(2, 7)]
    assert sent == [2, 3, 4, 5, 6]
    await asyncio.sleep(0.3)  # reconnect attempts fail while the link is down
    blackout.come_back()

    replayed = await take(doctor, 5)
    assert [(m.seq, m.payload) for m in replayed] == [(i, Text(f"m{i}")) for i in range(2, 7)]
    await ann.send(thread_id, "m7")
    assert [m.seq for m in await take(doctor, 1)] == [7]
    await nothing_more(doctor)
    assert doctor.connection.connects >= 2
    assert doctor.connection.cursors()[thread_id] == 7


async def test_sends_during_an_outage_are_delivered_once(
    people: People, blackout: Blackout
) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann_direct = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann_direct, doctor)
    ann = await _via(people, blackout, "ann@example.org", ann_direct)
    await doctor.connect()
    await ann.connect()
    await ann.send(thread_id, "before")  # warms the participant and device caches
    await take(doctor, 1)

    # 1. The server stores a message but its ack is lost on the way back.
    blackout.muted = True
    lost_ack = asyncio.create_task(ann.send(thread_id, "ack lost"))
    [stored] = await take(doctor, 1)
    assert stored.payload == Text("ack lost")
    assert not lost_ack.done()

    # 2. More messages are written while the link is down.
    blackout.go_down()
    offline = [asyncio.create_task(ann.send(thread_id, f"offline {i}")) for i in range(3)]
    await asyncio.sleep(0.3)
    assert not any(task.done() for task in offline)
    blackout.come_back()

    # Reconnected: the resent "ack lost" envelope is recognised as a duplicate and
    # answered with its original seq; the offline ones are stored once each.
    assert await asyncio.wait_for(lost_ack, 10) == stored.seq
    seqs = [await asyncio.wait_for(task, 10) for task in offline]
    assert sorted(seqs) == [stored.seq + 1, stored.seq + 2, stored.seq + 3]
    arrived = await take(doctor, 3)
    assert sorted(str(m.payload) for m in arrived) == sorted(
        str(Text(f"offline {i}")) for i in range(3)
    )
    await nothing_more(doctor)
    history = [m async for m in doctor.history(thread_id)]
    assert [m.seq for m in history] == list(range(1, stored.seq + 4))
    assert len({m.client_msg_id for m in history}) == len(history)
