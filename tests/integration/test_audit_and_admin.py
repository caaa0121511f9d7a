"""The hash-chained audit log, and the platform admin's actions."""

import asyncio
import json
import sys
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.admin import AdminError, create_admin, verify_audit
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import PASSWORD, Actor, actor, login

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
ADMIN_PASSWORD = "an operator's long password"


async def _admin(client: Client, db: Db, clock: ManualClock) -> Actor:
    account_id = await create_admin(db, clock, "root@carechat.example", ADMIN_PASSWORD)
    session = await login(client, "root@carechat.example", ADMIN_PASSWORD)
    return Actor(client, "root@carechat.example", account_id, session["token"], "admin")


async def test_security_events_are_chained_and_tampering_is_found(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await client.post(
        "/api/v1/sessions", json={"email": "ann@example.org", "password": "wrong one!"}
    )
    await ann.publish_root_key()
    await ann.add_device("phone")
    await ann.call("DELETE", "/api/v1/sessions/current", expect=204)

    count, broken = await verify_audit(db)
    assert broken is None
    actions = [doc["action"] async for doc in db["audit_log"].find().sort("seq", 1)]
    assert actions == ["login", "login_failed", "device_added", "logout"]
    # No message content, addresses or tokens: ids and a pseudonymous IP only.
    dump = json.dumps([doc async for doc in db["audit_log"].find({}, {"_id": 0})], default=str)
    assert "ann@example.org" not in dump
    assert ann.token not in dump
    assert "127.0.0.1" not in dump
    assert count == 4

    await db["audit_log"].update_one({"seq": 2}, {"$set": {"action": "login"}})
    _, broken = await verify_audit(db)
    assert broken is not None
    assert broken.seq == 2
    assert broken.reason == "hash mismatch"


async def test_concurrent_appenders_never_fork_the_chain(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    await actor(client, outbox, "ann@example.org")
    await asyncio.gather(*(login(client, "ann@example.org") for _ in range(8)))
    count, broken = await verify_audit(db)
    assert broken is None
    assert count == 9


async def test_the_verify_command_reports_the_first_broken_link(settings: Settings, db: Db) -> None:
    await create_admin(db, ManualClock(), "root@carechat.example", ADMIN_PASSWORD)
    env = {
        "CARECHAT_MONGODB_URI": settings.mongodb_uri.reveal() if settings.mongodb_uri else "",
        "CARECHAT_MONGODB_DB": settings.mongodb_db,
        "PATH": "/usr/bin:/bin",
    }

    async def run() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chat_server",
            "admin",
            "verify-audit",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode().strip()

    assert await run() == (0, "carechat: audit log intact (1 entries)")
    await db["audit_log"].update_one({"seq": 1}, {"$set": {"details.what": "forged"}})
    assert await run() == (1, "carechat: audit log broken at seq 1: hash mismatch")


async def test_admins_verify_registrations_and_suspend_accounts(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin = await _admin(client, db, clock)
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    spam = {"reason": "spam"}
    await doctor.call(
        "POST", f"/api/v1/admin/accounts/{doctor.account_id}/suspend", spam, expect=403
    )
    await admin.call(
        "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration", expect=204
    )
    me = await doctor.call("GET", "/api/v1/accounts/me")
    assert me["registration"]["status"] == "verified"

    ticket = await doctor.ticket()
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "ticket": ticket})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    await admin.call(
        "POST", f"/api/v1/admin/accounts/{doctor.account_id}/suspend", spam, expect=204
    )
    closed = await ws.receive(timeout=2)
    assert closed.type is WSMsgType.CLOSE
    assert closed.data == 4003
    await doctor.call("GET", "/api/v1/accounts/me", expect=401)
    refused = await client.post(
        "/api/v1/sessions", json={"email": "doc@example.org", "password": PASSWORD}
    )
    assert refused.status == 403
    await admin.call(
        "POST", "/api/v1/admin/accounts/AAAAAAAAAAAAAAAAAAAAAA/suspend", spam, expect=404
    )


async def test_an_admin_password_must_be_hard_to_guess(db: Db) -> None:
    with pytest.raises(AdminError, match="too easy to guess"):
        await create_admin(db, ManualClock(), "root@carechat.example", "password1234")
    assert await db["accounts"].count_documents({}) == 0
