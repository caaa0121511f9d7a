"""Refusals the state causes each answer their own code, not a shared "conflict".

The other situations are asserted where their feature is tested (care threads, care
links, key directory, groups); these are the ones no other test reaches.
"""

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server import totp
from chat_server.clock import ManualClock
from chat_server.handlers.devices import MAX_DEVICES
from chat_server.mail import MemoryOutbox
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.wire import to_base64url
from tests.actors import actor
from tests.integration.test_key_directory import _linked_pair as linked_pair
from tests.messaging import device, new_cmid

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def test_two_factor_set_up_in_the_wrong_order(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    early = await doctor.call(
        "POST", "/api/v1/accounts/me/totp/confirm", {"code": "000000"}, expect=409
    )
    assert early["code"] == "totp_setup_not_started"
    setup = await doctor.call("POST", "/api/v1/accounts/me/totp", expect=201)
    code = totp.code_at(setup["secret"], totp.step_of(clock.now()))
    await doctor.call("POST", "/api/v1/accounts/me/totp/confirm", {"code": code}, expect=204)
    again = await doctor.call("POST", "/api/v1/accounts/me/totp", expect=409)
    assert again["code"] == "totp_already_enabled"


async def test_a_second_thread_request_and_a_link_to_a_closed_door(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, ann = await linked_pair(client, outbox)
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    await ann.call("POST", "/api/v1/threads", body, expect=201)
    twice = await ann.call("POST", "/api/v1/threads", body, expect=409)
    assert twice["code"] == "thread_already_open"

    await doctor.call(
        "PUT", "/api/v1/accounts/me/availability", {"accepting_requests": False}, expect=204
    )
    bob = await actor(client, outbox, "bob@example.org")
    request = {"provider": {"kind": "practitioner", "id": doctor.account_id}}
    closed = await bob.call("POST", "/api/v1/care-links", request, expect=409)
    assert closed["code"] == "not_accepting_requests"


async def test_ending_a_care_link_twice(client: Client, outbox: MemoryOutbox) -> None:
    doctor, ann = await linked_pair(client, outbox)
    links = await ann.call("GET", "/api/v1/care-links")
    [link] = links["care_links"]
    await ann.call("DELETE", f"/api/v1/care-links/{link['care_link_id']}")
    ended = await doctor.call("DELETE", f"/api/v1/care-links/{link['care_link_id']}", expect=409)
    assert ended["code"] == "care_link_not_live"


async def test_device_limit_and_group_commits_without_a_root_key(
    client: Client, outbox: MemoryOutbox
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.call("POST", "/api/v1/groups", {"group_id": "ann-group"}, expect=201)
    commit = await ann.call(
        "POST", "/api/v1/groups/ann-group/epochs", {"commit": "AAAA"}, expect=409
    )
    assert commit["code"] == "root_key_required"

    await ann.publish_root_key()
    for n in range(MAX_DEVICES):
        await ann.add_device(f"ann-{n}")
    keys = DeviceKeys.generate(ann.account_id, "ann-one-too-many")
    certificate = to_base64url(ann.root.certify(keys).encode())
    over = await ann.call("POST", "/api/v1/devices", {"certificate": certificate}, expect=409)
    assert over["code"] == "device_limit_reached"


async def test_a_socket_says_hello_once_and_sends_from_a_live_device(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    doctor, ann = await linked_pair(client, outbox)
    phone = await device(ann, "ann-phone")
    laptop = await device(ann, "ann-laptop")
    await device(doctor, "doc-pc")
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    thread_id = (await ann.call("POST", "/api/v1/threads", body, expect=201))["thread_id"]

    await phone.connect()
    hello = await phone.request({"type": "hello", "ticket": await ann.ticket(phone.device_id)})
    assert hello["code"] == "hello_already_sent"

    # A socket opened without a device may read but not send.
    reader = type(phone)(ann, phone.keys)
    reader.ws = await ann.client.ws_connect("/ws")
    assert (await reader.request({"type": "hello", "ticket": await ann.ticket()}))["type"] == (
        "welcome"
    )
    send = {"type": "send", "thread": thread_id, "client_msg_id": new_cmid(), "envelope": "AAAA"}
    assert (await reader.request(dict(send)))["code"] == "device_required"

    # Revoked by another process whose revocation has not reached this socket yet: the
    # laptop encrypts to the devices that remain, and is refused as the sender.
    await laptop.connect()
    await db["devices"].update_one({"_id": "ann-laptop"}, {"$set": {"revoked_at": clock.now()}})
    remaining = await laptop.verified_devices(
        {ann.account_id: ann.root.public_key, doctor.account_id: doctor.root.public_key}
    )
    assert {d.device_id for d in remaining} == {"ann-phone", "doc-pc"}
    refused = await laptop.send_text(thread_id, "from a revoked device", remaining)
    assert refused["code"] == "device_revoked"
