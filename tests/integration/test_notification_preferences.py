"""Notification preferences: an account turns the e-mail or the text announcing a
waiting message off, and the notifier then sends only what is left on."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.storage.accounts import AccountStore
from tests.actors import actor
from tests.faults.harness import until
from tests.integration.test_notifier import CountingMailer, Rig

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
PATH = "/api/v1/accounts/me/notification-preferences"


async def test_both_channels_are_on_until_turned_off(client: Client, outbox: MemoryOutbox) -> None:
    pat = await actor(client, outbox, "pat.prefs@example.org")
    assert await pat.call("GET", PATH) == {"email": True, "sms": True}
    assert await pat.call("PUT", PATH, {"email": False, "sms": True}) == {
        "email": False,
        "sms": True,
    }
    assert await pat.call("GET", PATH) == {"email": False, "sms": True}
    # Another account's preferences are its own.
    other = await actor(client, outbox, "other.prefs@example.org")
    assert await other.call("GET", PATH) == {"email": True, "sms": True}


async def test_preferences_are_booleans_and_need_a_session(
    client: Client, outbox: MemoryOutbox
) -> None:
    pat = await actor(client, outbox, "strict.prefs@example.org")
    for body in [{"email": "no", "sms": True}, {"email": False}, {"email": 0, "sms": 1}]:
        problem = await pat.call("PUT", PATH, body, expect=422)
        assert problem["code"] == "validation_failed"
    assert await pat.call("GET", PATH) == {"email": True, "sms": True}
    response = await client.get(PATH)
    assert response.status == 401


class Texts:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def __call__(self, account_id: str) -> None:
        self.sent.append(account_id)


async def _notified(
    db: Db, clock: ManualClock, email: bool, sms: bool
) -> tuple[list[str], list[str], str]:
    mailer, texts = CountingMailer(), Texts()
    rig = Rig(db, mailer, clock, delay=0)
    rig.notifier._hook = texts
    await rig.doctor(0)
    assert await AccountStore(db).set_notify_preferences("doctor-0", email=email, sms=sms)
    rig.runner.start()
    try:
        await rig.message(0, 1)

        async def settled() -> bool:
            return await db["notifications_sent"].count_documents(
                {"state": {"$ne": None}}
            ) == 1 and (await db["jobs"].count_documents({"state": "done"}) == 1)

        await until(settled, 5, "the notification settled")
        record = await db["notifications_sent"].find_one({})
        assert record is not None
        return mailer.sent, texts.sent, str(record["state"])
    finally:
        await rig.close()


async def test_the_notifier_sends_only_the_channels_left_on(db: Db, clock: ManualClock) -> None:
    assert await _notified(db, clock, email=True, sms=True) == (
        ["doctor-0@example.org"],
        ["doctor-0"],
        "sent",
    )


async def test_email_off_sends_only_the_text(db: Db, clock: ManualClock) -> None:
    assert await _notified(db, clock, email=False, sms=True) == ([], ["doctor-0"], "sent")


async def test_both_off_sends_nothing_and_records_why(db: Db, clock: ManualClock) -> None:
    assert await _notified(db, clock, email=False, sms=False) == ([], [], "muted")
