"""Two real server processes sharing MongoDB and Redis see each other's fan-out."""

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.actors import PASSWORD
from tests.servers import ServerProcess, outbox_bodies
from tests.services import Services, database_dropped


@pytest.fixture
def two_servers(
    services: Services, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "CARECHAT_MONGODB_URI": services.mongo.uri,
        "CARECHAT_MONGODB_DB": f"fanout_{uuid4().hex[:12]}",
        "CARECHAT_REDIS_URL": services.redis.url,
        "CARECHAT_REDIS_PREFIX": f"t{uuid4().hex[:8]}:",
    }
    a, b = ServerProcess(tmp_path, env), ServerProcess(tmp_path, env)
    with database_dropped(env), a, b:
        yield a, b


async def _session(http: aiohttp.ClientSession, server: ServerProcess, data_dir: Path) -> str:
    body = {
        "email": "ann@example.org",
        "password": PASSWORD,
        "role": "patient",
        "display_name": "Ann",
    }
    async with http.post(server.url + "/api/v1/accounts", json=body) as response:
        assert response.status == 202
    token = outbox_bodies(data_dir)[-1].split("/verify#", 1)[1].split()[0]
    verify = {"token": token, "password": PASSWORD}
    async with http.post(server.url + "/api/v1/accounts/verify", json=verify) as response:
        assert response.status == 200
    login = {"email": "ann@example.org", "password": PASSWORD}
    async with http.post(server.url + "/api/v1/sessions", json=login) as response:
        assert response.status == 201
        return str((await response.json())["token"])


async def _socket(
    http: aiohttp.ClientSession, server: ServerProcess, session: str
) -> aiohttp.ClientWebSocketResponse:
    auth = {"Authorization": f"Bearer {session}"}
    async with http.post(server.url + "/api/v1/ws-tickets", json={}, headers=auth) as response:
        ticket = (await response.json())["ticket"]
    ws = await http.ws_connect(server.url + "/ws")
    await ws.send_json({"type": "hello", "ticket": ticket})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return ws


async def test_logout_on_one_process_closes_sockets_on_the_other(
    two_servers: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    a, b = two_servers
    async with aiohttp.ClientSession() as http:
        session = await _session(http, a, tmp_path)
        on_a = await _socket(http, a, session)
        on_b = await _socket(http, b, session)  # a ticket from either process works anywhere
        async with http.delete(
            a.url + "/api/v1/sessions/current", headers={"Authorization": f"Bearer {session}"}
        ) as response:
            assert response.status == 204
        for ws in (on_a, on_b):
            msg = await ws.receive(timeout=1.0)  # "within a second, on every process"
            assert msg.type is WSMsgType.CLOSE
            assert msg.data == 4003
