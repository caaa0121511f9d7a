"""WebSocket authentication by single-use tickets, and revocation of open sockets."""

import json
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
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
