"""Per-address limits and audit pseudonyms behind a load balancer.

The test client connects from 127.0.0.1: configured as a trusted proxy, it stands for
the load balancer and its ``X-Forwarded-For`` names the client; not configured (the
default), it is a client like any other, and the header it sends means nothing.
"""

from ipaddress import ip_network
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import PASSWORD, app_client, register

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
REGISTER_PER_IP = 10  # chat_server.handlers.accounts.REGISTER_PER_IP


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _register(client: Client, n: int, forwarded_for: str) -> int:
    response = await client.post(
        "/api/v1/accounts",
        json={
            "email": f"person{n}@example.org",
            "password": PASSWORD,
            "role": "patient",
            "display_name": f"person {n}",
        },
        headers=_from(forwarded_for),
    )
    return response.status


async def _login_ip_hashes(
    client: Client, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> list[str]:
    clock.advance(3600)  # the registration budget is back
    await register(client, outbox, "ann@example.org")
    for forwarded_for in ("198.51.100.1", "198.51.100.2"):
        response = await client.post(
            "/api/v1/sessions",
            json={"email": "ann@example.org", "password": PASSWORD},
            headers=_from(forwarded_for),
        )
        assert response.status == 201, await response.text()
    cursor = db["audit_log"].find({"action": "login"}).sort("seq", 1)
    return [doc["ip_hash"] async for doc in cursor]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    aiohttp_client: Any, settings: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    client = await app_client(
        aiohttp_client, settings, clock, outbox, trusted_proxies=(ip_network("127.0.0.1/32"),)
    )
    for n in range(REGISTER_PER_IP):
        assert await _register(client, n, "198.51.100.7") == 202
    assert await _register(client, 100, "198.51.100.7") == 429
    # What the client wrote to the left of the balancer's entry does not help it.
    assert await _register(client, 101, "203.0.113.9, 198.51.100.7") == 429
    # Another client behind the same balancer is not locked out.
    assert await _register(client, 102, "198.51.100.8") == 202

    first, second = await _login_ip_hashes(client, db, clock, outbox)
    assert first != second


async def test_from_an_untrusted_peer_x_forwarded_for_is_ignored(
    client: Client, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    for n in range(REGISTER_PER_IP):
        assert await _register(client, n, f"198.51.100.{n}") == 202
    assert await _register(client, 100, "198.51.100.200") == 429

    first, second = await _login_ip_hashes(client, db, clock, outbox)
    assert first == second


async def _pending(client: Client, forwarded_for: str) -> aiohttp.ClientWebSocketResponse:
    return await client.ws_connect("/ws", headers=_from(forwarded_for))


async def test_pending_sockets_are_capped_per_forwarded_client(
    aiohttp_client: Any, settings: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    client = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        trusted_proxies=(ip_network("127.0.0.1/32"),),
        ws_unauthenticated_per_ip=2,
        ws_auth_timeout_seconds=5.0,
    )
    held = [await _pending(client, "198.51.100.7") for _ in range(2)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await _pending(client, "198.51.100.7")
    assert info.value.status == 429
    held.append(await _pending(client, "198.51.100.8"))
    for ws in held:
        await ws.close()


async def test_pending_sockets_from_an_untrusted_peer_share_its_cap(
    aiohttp_client: Any, settings: Settings, db: Db, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    client = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        ws_unauthenticated_per_ip=2,
        ws_auth_timeout_seconds=5.0,
    )
    held = [await _pending(client, f"198.51.100.{n}") for n in range(2)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await _pending(client, "198.51.100.9")
    assert info.value.status == 429
    for ws in held:
        await ws.close()
