"""The message store stamps every message it stores with the server's franking
receipt, under a key derived from the server secret: the stamp an abuse report
relies on."""

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import server_secret
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from chat_server.storage.franking_stamp import stamp_key
from e2e_crypto.errors import VerificationFailed
from e2e_crypto.franking import FrankingKind, verify_stamp
from tests.integration.test_care_threads import _setup

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def test_a_stored_message_carries_a_stamp_under_the_server_secret(
    client: Client, outbox: MemoryOutbox, db: Db, settings: Settings
) -> None:
    _doctor, ann, _doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await ann_phone.send_text(thread_id, "Can I renew my prescription?", everyone)
    doc = await db["messages"].find_one({"thread": thread_id, "seq": 1})
    assert doc is not None
    fields: dict[str, Any] = {
        "kind": FrankingKind.MESSAGE,
        "franking_commitment": bytes(doc["franking"]),
        "sender_account": ann.account_id,
        "sender_device": ann_phone.device_id,
        "thread_id": thread_id,
        "seq": 1,
        "received_at": doc["at"],
    }
    assert len(doc["franking"]) == 32
    verify_stamp(stamp_key(server_secret(settings)), bytes(doc["stamp"]), **fields)
    # The key is the stamp's own: neither the secret itself nor another server's.
    for wrong_key in (server_secret(settings), stamp_key(b"another server" * 3)):
        with pytest.raises(VerificationFailed):
            verify_stamp(wrong_key, bytes(doc["stamp"]), **fields)
    # A chat message's stamp is never a broadcast's.
    with pytest.raises(VerificationFailed):
        verify_stamp(
            stamp_key(server_secret(settings)),
            bytes(doc["stamp"]),
            **{**fields, "kind": FrankingKind.BROADCAST},
        )
