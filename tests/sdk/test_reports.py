"""An abuse report through the SDK: the recipient reveals the message, the server
verifies it against its stamp."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from e2e_crypto.client import Text
from tests.sdk.conversation import care_thread, take
from tests.sdk.people import People


async def test_a_recipient_reports_a_message_and_it_verifies(
    people: People, db: AsyncDatabase[dict[str, Any]]
) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    await doctor.send(thread_id, "An insulting reply")
    [received] = await take(ann, 1)
    assert received.payload == Text("An insulting reply")

    assert await ann.report(received, "harassment") == "verified"
    [report] = [doc async for doc in db["reports"].find()]
    assert report["sender_account"] == doctor.account_id
    assert report["verification"] == "verified"
    assert report["category"] == "harassment"
