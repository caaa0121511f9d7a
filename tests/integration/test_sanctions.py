"""Moderators warn, suspend and lift, each with a reason, in the audit log; a
suspension closes the account's sockets on every process and the person sees why."""

from __future__ import annotations

from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.admin import create_admin, verify_audit
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import PASSWORD, Actor, actor, app_client, login

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
ADMIN_PASSWORD = "an operator's long password"


async def _moderator(client: Client, db: Db, clock: ManualClock) -> Actor:
    account_id = await create_admin(db, clock, "mod@carechat.example", ADMIN_PASSWORD)
    session = await login(client, "mod@carechat.example", ADMIN_PASSWORD)
    return Actor(client, "mod@carechat.example", account_id, session["token"], "admin")


def _path(account: Actor, action: str) -> str:
    return f"/api/v1/admin/accounts/{account.account_id}/{action}"


async def test_warn_suspend_lift_with_reasons_in_the_audit_log(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    moderator = await _moderator(client, db, clock)
    mallory = await actor(client, outbox, "mallory@example.org")
    ann = await actor(client, outbox, "ann@example.org")
    await ann.call("POST", _path(mallory, "warn"), {"reason": "spam"}, expect=403)
    # A reason is required, from the list; "other" needs a note for the person.
    for body in ({}, {"reason": "rude"}, {"reason": "other"}, {"reason": "spam", "note": "a\x1b"}):
        await moderator.call("POST", _path(mallory, "warn"), body, expect=422)
    await moderator.call(
        "POST", _path(mallory, "warn"), {"reason": "spam", "note": "Stop mass messages."}, 204
    )
    mine = await mallory.call("GET", "/api/v1/accounts/me/sanctions")
    [warning] = mine["sanctions"]
    assert (warning["action"], warning["reason"], warning["note"]) == (
        "warn",
        "spam",
        "Stop mass messages.",
    )
    assert warning["appeal"] == "mailto:appeals@carechat.invalid"

    lifted_early = await moderator.call(
        "POST", _path(mallory, "lift"), {"reason": "mistake"}, expect=409
    )
    assert lifted_early["code"] == "account_not_suspended"
    note = "Threats against staff, 29 Nov."
    await moderator.call(
        "POST", _path(mallory, "suspend"), {"reason": "threats", "note": note}, 204
    )
    again = await moderator.call("POST", _path(mallory, "suspend"), {"reason": "spam"}, expect=409)
    assert again["code"] == "account_already_suspended"
    await mallory.call("GET", "/api/v1/accounts/me", expect=401)  # sessions ended

    refused = await client.post(
        "/api/v1/sessions", json={"email": "mallory@example.org", "password": PASSWORD}
    )
    assert refused.status == 403
    assert refused.content_type == "application/problem+json"
    problem = await refused.json()
    assert problem["code"] == "account_suspended"
    assert problem["suspension"]["reason"] == "threats"
    assert problem["suspension"]["note"] == note
    assert problem["suspension"]["appeal"] == "mailto:appeals@carechat.invalid"
    # A wrong password learns nothing about the suspension.
    wrong = await client.post(
        "/api/v1/sessions", json={"email": "mallory@example.org", "password": "not it at all"}
    )
    assert wrong.status == 401
    assert "suspension" not in await wrong.json()

    await moderator.call("POST", _path(mallory, "lift"), {"reason": "appeal_upheld"}, 204)
    await login(client, "mallory@example.org")
    await moderator.call(
        "POST", "/api/v1/admin/accounts/AAAAAAAAAAAAAAAAAAAAAA/warn", {"reason": "spam"}, 404
    )

    count, broken = await verify_audit(db)
    assert broken is None
    assert count > 0
    entries = [
        (doc["action"], doc["details"])
        async for doc in db["audit_log"].find({"subject": mallory.account_id}).sort("seq", 1)
    ]
    assert entries == [
        ("account_warned", {"reason": "spam", "note": True}),
        ("account_suspended", {"reason": "threats", "note": True}),
        ("suspension_lifted", {"reason": "appeal_upheld", "note": False}),
    ]
    # The notes are the person's, not the audit log's.
    assert not await db["audit_log"].count_documents({"details.note": {"$type": "string"}})


async def test_a_suspension_closes_every_socket_on_every_process(
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
    db: Db,
) -> None:
    # Two server processes sharing MongoDB and Redis (fan-out through Redis).
    first = await app_client(aiohttp_client, settings, clock, outbox)
    second = await app_client(aiohttp_client, settings, clock, outbox)
    moderator = await _moderator(first, db, clock)
    mallory = await actor(first, outbox, "mallory@example.org")
    ann = await actor(first, outbox, "ann@example.org")
    on_second = Actor(second, mallory.email, mallory.account_id, mallory.token, "patient")

    sockets = []
    for client, who in ((first, mallory), (second, on_second), (second, ann)):
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "hello", "ticket": await who.ticket()})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        sockets.append(ws)
    mallory_first, mallory_second, ann_second = sockets

    await moderator.call("POST", _path(mallory, "suspend"), {"reason": "harassment"}, 204)
    for ws in (mallory_first, mallory_second):
        closed = await ws.receive(timeout=5)
        assert closed.type is WSMsgType.CLOSE
        assert closed.data == 4003
        reason = str(closed.extra)
        assert "account suspended: harassment" in reason
        assert "appeal" in reason
    # Nobody else's socket was touched.
    await ann_second.send_json({"type": "ping", "id": "p"})
    assert (await ann_second.receive_json(timeout=5))["type"] == "pong"
    await ann_second.close()
