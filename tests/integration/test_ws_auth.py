"""WebSocket authentication by single-use tickets, and revocation of open sockets."""

import asyncio
import base64
import json
import os
import time
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import PASSWORD, Actor, actor, login

Client = TestClient[web.Request, web.Application]


async def _hello(
    client: Client, ticket: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "id": "h", "ticket": ticket})
    msg = await ws.receive(timeout=5)
    if msg.type is WSMsgType.TEXT:
        return ws, json.loads(msg.data)
    return ws, {"closed": msg.data}


async def _closed_with(ws: aiohttp.ClientWebSocketResponse, code: int) -> None:
    msg = await ws.receive(timeout=2)
    assert msg.type is WSMsgType.CLOSE, msg
    assert msg.data == code


async def test_a_ticket_opens_one_socket_once(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    ticket = await ann.ticket()
    assert len(ticket) >= 22  # >= 128 bits
    ws, welcome = await _hello(client, ticket)
    assert welcome["type"] == "welcome"
    assert welcome["account_id"] == ann.account_id
    assert welcome["re"] == "h"
    assert "not for emergencies" in welcome["notice"]
    await ws.send_json({"type": "ping", "id": "p"})
    assert (await ws.receive_json(timeout=5)) == {"type": "pong", "re": "p"}
    # Reused ticket: refused with 4001.
    _, reused = await _hello(client, ticket)
    assert reused == {"closed": 4001}


async def test_expired_and_forged_tickets_are_refused(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    ticket = await ann.ticket()
    clock.advance(31)
    _, expired = await _hello(client, ticket)
    assert expired == {"closed": 4001}
    for forged in ("x" * 43, "short", ""):
        _, result = await _hello(client, forged)
        assert result == {"closed": 4001}


async def test_tickets_need_a_session(client: Client) -> None:
    response = await client.post("/api/v1/ws-tickets", json={})
    assert response.status == 401


async def test_a_ticket_for_another_accounts_device_is_refused(
    client: Client, outbox: MemoryOutbox
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.publish_root_key()
    await ann.add_device("ann-phone")
    bob = await actor(client, outbox, "bob@example.org")
    await bob.call("POST", "/api/v1/ws-tickets", {"device_id": "ann-phone"}, expect=404)
    await bob.call("POST", "/api/v1/ws-tickets", {"device_id": "no-such-device"}, expect=404)


async def _socket(
    client: Client, who: Actor, device: str | None = None
) -> aiohttp.ClientWebSocketResponse:
    ws, welcome = await _hello(client, await who.ticket(device))
    assert welcome["type"] == "welcome", welcome
    return ws


async def test_logout_closes_that_sessions_sockets(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    other_session = (await login(client, "ann@example.org"))["token"]
    ws = await _socket(client, ann)
    other = Actor(client, ann.email, ann.account_id, other_session, "patient")
    ws_other = await _socket(client, other)
    await ann.call("DELETE", "/api/v1/sessions/current", expect=204)
    await _closed_with(ws, 4003)
    # The other session's socket stays open.
    await ws_other.send_json({"type": "ping"})
    assert (await ws_other.receive_json(timeout=2))["type"] == "pong"


async def test_password_change_closes_every_socket(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    ws = await _socket(client, ann)
    await ann.call(
        "POST",
        "/api/v1/accounts/me/password",
        {"current_password": PASSWORD, "new_password": "another long password"},
        expect=204,
    )
    await _closed_with(ws, 4003)


async def test_revoking_a_device_closes_its_sockets(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.publish_root_key()
    await ann.add_device("phone")
    await ann.add_device("laptop")
    phone = await _socket(client, ann, "phone")
    laptop = await _socket(client, ann, "laptop")
    await ann.call("DELETE", "/api/v1/devices/phone", expect=204)
    await _closed_with(phone, 4003)
    await laptop.send_json({"type": "ping"})
    assert (await laptop.receive_json(timeout=2))["type"] == "pong"
    # And the revoked device cannot get back in.
    await ann.call("POST", "/api/v1/ws-tickets", {"device_id": "phone"}, expect=404)


async def test_the_login_deadline_counts_from_the_opening_whatever_arrives(
    client: Client, settings: Settings
) -> None:
    # A hello without a ticket is a malformed frame (answered, socket kept), but it must
    # not restart the clock: the socket closes ws_auth_timeout_seconds after opening.
    ws = await client.ws_connect("/ws")
    opened = time.monotonic()
    errors = 0
    while time.monotonic() - opened < settings.ws_auth_timeout_seconds * 3:
        try:
            await ws.send_json({"type": "hello", "id": "h"})
        except aiohttp.ClientConnectionResetError:
            pass  # closed while we slept: its close frame is waiting to be read
        msg = await ws.receive(timeout=settings.ws_auth_timeout_seconds * 3)
        if msg.type is not WSMsgType.TEXT:
            break
        assert json.loads(msg.data)["code"] == "malformed_frame"
        errors += 1
        await asyncio.sleep(settings.ws_auth_timeout_seconds / 4)
    elapsed = time.monotonic() - opened
    assert msg.type is WSMsgType.CLOSE
    assert msg.data == 4001
    assert errors >= 3
    assert settings.ws_auth_timeout_seconds <= elapsed < settings.ws_auth_timeout_seconds + 1


def _upgrade_headers() -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }


async def test_unauthenticated_sockets_per_address_are_capped(
    aiohttp_client: Any,
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    clock: ManualClock,
    outbox: MemoryOutbox,
) -> None:
    capped = replace(settings, ws_unauthenticated_per_ip=3, ws_auth_timeout_seconds=2.0)
    client = await aiohttp_client(create_app(capped, clock=clock, mailer=outbox, sms=outbox))
    waiting = [await client.ws_connect("/ws") for _ in range(3)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws")
    assert info.value.status == 429
    refused = await client.get("/ws", headers=_upgrade_headers())
    assert refused.status == 429
    assert refused.content_type == "application/problem+json"
    assert (await refused.json())["code"] == "too_many_pending_sockets"
    assert refused.headers["Retry-After"] == "2"

    # A socket that authenticates stops counting; so does one that closes.
    ann = await actor(client, outbox, "ann@example.org")
    await waiting[0].send_json({"type": "hello", "id": "h", "ticket": await ann.ticket()})
    assert (await waiting[0].receive_json(timeout=5))["type"] == "welcome"
    fourth = await client.ws_connect("/ws")
    await waiting[1].close()
    fifth = await client.ws_connect("/ws")
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/ws")

    # The deadline closes the waiting ones, which frees their places.
    for ws in (waiting[2], fourth, fifth):
        await _closed_with_within(ws, 4001, capped.ws_auth_timeout_seconds + 2)
    again = [await client.ws_connect("/ws") for _ in range(3)]
    for ws in again:
        await ws.close()
    await waiting[0].send_json({"type": "ping", "id": "p"})
    assert (await waiting[0].receive_json(timeout=5))["type"] == "pong"


async def _closed_with_within(ws: aiohttp.ClientWebSocketResponse, code: int, wait: float) -> None:
    msg = await ws.receive(timeout=wait)
    assert msg.type is WSMsgType.CLOSE, msg
    assert msg.data == code
