"""The guarantee "a stolen session token without the device key cannot send as that
device", both ways a socket can hold it (ADR 0004): a socket whose ``hello`` carries
the device's signature over its ticket (the SDK's way) is trusted with its sends'
signatures, which the recipients verify; a socket without that proof has every
send's signature verified by the server. A thief with the token can do neither."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.mail import MemoryOutbox
from e2e_crypto.errors import CryptoError
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.socket_proof import sign_socket_proof
from e2e_crypto.wire import to_base64url
from tests.integration.test_care_threads import _flip, _linked, _thread
from tests.messaging import Device, by_device, device, new_cmid

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def _hello(dev: Device, keys: DeviceKeys | None, ticket: str | None = None) -> Any:
    """``hello`` on a fresh socket, with a proof signed by ``keys`` (none if None)."""
    ticket = ticket or await dev.actor.ticket(dev.device_id)
    dev.ws = await dev.actor.client.ws_connect("/ws")
    frame: dict[str, Any] = {"type": "hello", "ticket": ticket}
    if keys is not None:
        frame["proof"] = to_base64url(sign_socket_proof(keys, ticket))
    return await dev.request(frame)


async def test_a_proven_socket_leaves_signatures_to_the_recipients(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    doctor, ann = await _linked(client, outbox)
    doc_pc, ann_phone = await device(doctor, "doc-pc"), await device(ann, "ann-phone")
    thread_id = await _thread(ann, doctor)
    await doc_pc.connect()
    assert (await _hello(ann_phone, ann_phone.keys))["type"] == "welcome"
    everyone = await ann_phone.verified_devices(
        {ann.account_id: ann.root.public_key, doctor.account_id: doctor.root.public_key}
    )
    ack = await ann_phone.send_text(thread_id, "proven", everyone)
    assert ack["type"] == "ack"
    msg = await doc_pc.next_of("msg", seq=ack["seq"])
    assert doc_pc.open(msg, by_device(everyone)) == "proven"

    # The device itself sending a damaged envelope is its own client's bug, not a
    # forgery: the server does not check it again, and the recipient refuses it.
    cmid = new_cmid()
    damaged = _flip(ann_phone.seal(thread_id, cmid, "damaged", everyone))
    send = {"type": "send", "thread": thread_id, "client_msg_id": cmid, "envelope": damaged}
    ack = await ann_phone.request(send)
    assert ack["type"] == "ack"
    msg = await doc_pc.next_of("msg", seq=ack["seq"])
    with pytest.raises(CryptoError):
        doc_pc.open(msg, by_device(everyone))


async def test_a_stolen_token_without_the_device_key_cannot_send_as_the_device(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    doctor, ann = await _linked(client, outbox)
    doc_pc, ann_phone = await device(doctor, "doc-pc"), await device(ann, "ann-phone")
    thread_id = await _thread(ann, doctor)
    await doc_pc.connect()
    everyone = await doc_pc.verified_devices(
        {ann.account_id: ann.root.public_key, doctor.account_id: doctor.root.public_key}
    )
    # The thief has ann's session token (so tickets for ann-phone), not its key.
    thief = Device(ann, DeviceKeys.generate(ann.account_id, ann_phone.device_id))

    # A proof signed with any other key spends the ticket and closes the socket.
    assert await _hello(thief, thief.keys) == {"type": "closed", "code": 4001}
    # So does a genuine proof over another ticket (a replayed proof).
    used = await ann.ticket(ann_phone.device_id)
    proof = to_base64url(sign_socket_proof(ann_phone.keys, used))
    thief.ws = await ann.client.ws_connect("/ws")
    fresh = await ann.ticket(ann_phone.device_id)
    replay = {"type": "hello", "ticket": fresh, "proof": proof}
    assert await thief.request(replay) == {"type": "closed", "code": 4001}

    # Without a proof the socket opens, and each send's signature is checked.
    assert (await _hello(thief, None))["type"] == "welcome"
    forged = await thief.send_text(thread_id, "forged", everyone)
    assert forged["code"] == "invalid_envelope"
    assert await db["messages"].count_documents({"thread": thread_id}) == 0

    # The device itself, without a proof, is checked and accepted.
    assert (await _hello(ann_phone, None))["type"] == "welcome"
    assert (await ann_phone.send_text(thread_id, "genuine", everyone))["type"] == "ack"
    assert await db["messages"].count_documents({"thread": thread_id}) == 1


async def test_a_proof_needs_a_device_bound_ticket(client: Client, outbox: MemoryOutbox) -> None:
    _, ann = await _linked(client, outbox)
    ann_phone = await device(ann, "ann-phone")
    ticket = await ann.ticket()  # for the account, no device
    assert await _hello(ann_phone, ann_phone.keys, ticket) == {"type": "closed", "code": 4001}
    ann_phone.ws = None
    malformed = await ann.ticket(ann_phone.device_id)
    ann_phone.ws = await ann.client.ws_connect("/ws")
    answer = await ann_phone.request({"type": "hello", "ticket": malformed, "proof": "x"})
    assert (answer["type"], answer["code"]) == ("error", "malformed_frame")
