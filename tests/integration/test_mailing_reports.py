"""Reports of practice mailings: the server stamps each campaign body in the broadcast
domain when it is created, and checks a patient's report (the text and franking key
the SDK revealed) against that stamp with ``verify_broadcast_report``."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import server_secret
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from chat_server.storage.franking_stamp import stamp_key
from e2e_crypto.broadcast_public import parse_broadcast
from e2e_crypto.client.api import Api
from e2e_crypto.client.mailings import read_announcements, report_announcement, send_campaign
from e2e_crypto.errors import VerificationFailed
from e2e_crypto.franking import FrankingKind, stamp, verify_stamp
from e2e_crypto.wire import to_base64url
from tests.actors import Actor, actor, app_client
from tests.integration.test_care_threads import _setup
from tests.integration.test_sanctions import _moderator
from tests.mailings import linked_patient, practice_desk, until_state, verified

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
CAMPAIGN = "flu-2026-campaign-01"


def _api(client: Client, who: Actor) -> Api:
    api = Api(str(client.make_url("/")))
    api.use_token(who.token, who.account_id)
    return api


def _mailing_report(campaign: str, text: bytes, key: bytes) -> dict[str, str]:
    return {
        "campaign": campaign,
        "body": to_base64url(text),
        "franking_key": to_base64url(key),
        "category": "spam",
    }


async def test_a_mailing_report_is_verified_against_the_broadcast_stamp(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox, db: Db
) -> None:
    client = await app_client(aiohttp_client, settings, clock, outbox)
    desk = await practice_desk(client, outbox, "admin@practice.example")
    ann = await linked_patient(client, outbox, desk, "ann@example.org")
    bob = await linked_patient(client, outbox, desk, "bob@example.org")
    text = b"Buy our vitamins at 50% off, today only"
    async with _api(client, desk.admin) as api:
        await send_campaign(
            api,
            desk.device,
            practice_id=desk.practice_id,
            campaign_id=CAMPAIGN,
            text=text,
            devices={
                ann.account_id: [verified(ann, "ann-phone")],
                bob.account_id: [verified(bob, "bob-phone")],
            },
        )
    await until_state(desk, CAMPAIGN, "done")
    stored = await db["campaigns"].find_one({"_id": CAMPAIGN})
    assert stored is not None
    assert len(stored["stamp"]) == 32

    sender = {desk.admin.account_id: verified(desk.admin, desk.device.device_id)}
    async with _api(client, ann) as api:
        [received] = await read_announcements(api, ann.devices["ann-phone"], sender)
        # The SDK reveals what it decrypted; the server finds it is what was sent.
        assert await report_announcement(api, received, "spam") == "verified"
    await ann.call(
        "POST", "/api/v1/reports", _mailing_report(CAMPAIGN, text, received.franking_key), 409
    )

    # Bob "reveals" words the practice never sent, with the real key: unverifiable.
    async with _api(client, bob) as api:
        [bobs] = await read_announcements(api, bob.devices["bob-phone"], sender)
    forged = await bob.call(
        "POST",
        "/api/v1/reports",
        _mailing_report(CAMPAIGN, b"Stop your insulin", bobs.franking_key),
        201,
    )
    assert forged["verification"] == "unverifiable"

    # Only a recipient reports a mailing; the same 404 as for no such campaign.
    dan = await actor(client, outbox, "dan@example.org")
    await dan.call(
        "POST", "/api/v1/reports", _mailing_report(CAMPAIGN, text, bobs.franking_key), 404
    )
    await ann.call(
        "POST",
        "/api/v1/reports",
        _mailing_report("no-such-campaign-0001", text, bobs.franking_key),
        404,
    )
    # A campaign and a thread at once is a precise 422, not a guess.
    both = _mailing_report(CAMPAIGN, text, bobs.franking_key) | {"thread": "t" * 22, "seq": 1}
    refused = await ann.call("POST", "/api/v1/reports", both, 422)
    assert set(refused["fields"]) == {"campaign"}

    moderator = await _moderator(client, db, clock)
    queue = (await moderator.call("GET", "/api/v1/admin/reports"))["reports"]
    outcome = {(r["campaign"], r["reporter"]): r["verification"] for r in queue}
    assert outcome == {
        (CAMPAIGN, ann.account_id): "verified",
        (CAMPAIGN, bob.account_id): "unverifiable",
    }
    genuine = next(r for r in queue if r["reporter"] == ann.account_id)
    assert (genuine["thread"], genuine["seq"]) == (None, None)
    assert genuine["sender"] == {
        "account": desk.admin.account_id,
        "device": desk.device.device_id,
    }

    # The stored stamp replaced by the server's own stamp over the same values in the
    # chat-message domain: a message's stamp never passes for a mailing's.
    header = parse_broadcast(bytes(stored["body"])).header
    as_message = stamp(
        stamp_key(server_secret(settings)),
        kind=FrankingKind.MESSAGE,
        franking_commitment=header.franking_commitment,
        sender_account=header.sender_account,
        sender_device=header.sender_device,
        thread_id=CAMPAIGN,
        seq=0,
        received_at=stored["created_at"],
    )
    await db["campaigns"].update_one({"_id": CAMPAIGN}, {"$set": {"stamp": Binary(as_message)}})
    await db["reports"].delete_many({})
    async with _api(client, ann) as api:
        assert await report_announcement(api, received) == "unverifiable"


async def test_a_chat_message_stamp_never_verifies_as_a_broadcast(
    client: Client, outbox: MemoryOutbox, db: Db, settings: Settings
) -> None:
    _doctor, _ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await ann_phone.send_text(thread_id, "a message", everyone)
    await doc_pc.next_of("msg", seq=1)
    stored = await db["messages"].find_one({"thread": thread_id, "seq": 1})
    assert stored is not None
    key = stamp_key(server_secret(settings))
    values = {
        "franking_commitment": bytes(stored["franking"]),
        "sender_account": stored["sender_account"],
        "sender_device": stored["sender_device"],
        "thread_id": thread_id,
        "seq": 1,
        "received_at": stored["at"],
    }
    verify_stamp(key, bytes(stored["stamp"]), kind=FrankingKind.MESSAGE, **values)
    with pytest.raises(VerificationFailed):
        verify_stamp(key, bytes(stored["stamp"]), kind=FrankingKind.BROADCAST, **values)
