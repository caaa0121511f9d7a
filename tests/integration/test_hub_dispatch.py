"""The hub hands an event to a kind's at-once sink first and to its awaiting sink only
for the sockets the first declined; a failing sink costs its socket a resync, never
the other sockets their event (chat_server/ws/hub.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from chat_server.events import Event
from chat_server.fanout import LocalBroker
from chat_server.metrics import Metrics
from chat_server.ws.hub import Connection, Hub


class Sockets:
    """Server-side connections of one account, as the endpoint attaches them."""

    def __init__(self) -> None:
        self.hub = Hub(Metrics())
        self.hub.bind_broker(LocalBroker(Metrics()))
        self.opened: asyncio.Queue[Connection] = asyncio.Queue()
        self.done = asyncio.Event()

    def app(self) -> web.Application:
        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(compress=False)
            await ws.prepare(request)
            conn = Connection(ws, 100, Metrics(), transport=request.transport)
            conn.account_id = "acct"
            conn.device_id = request.query["device"]
            await self.hub.attach(conn)
            self.opened.put_nowait(conn)
            await self.done.wait()
            await self.hub.detach(conn)
            await conn.close(1000, "bye")
            return ws

        app = web.Application()
        app.router.add_get("/ws", handler)
        return app


async def _frame(ws: Any) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.receive(), 10)
    assert message.type is WSMsgType.TEXT, message
    frame: dict[str, Any] = json.loads(message.data)
    return frame


async def test_the_awaiting_sink_gets_only_what_the_at_once_sink_declined(
    aiohttp_client: Any,
) -> None:
    sockets = Sockets()
    client = await aiohttp_client(sockets.app())
    quick = await client.ws_connect("/ws?device=quick")
    await asyncio.wait_for(sockets.opened.get(), 10)
    slow = await client.ws_connect("/ws?device=slow")
    await asyncio.wait_for(sockets.opened.get(), 10)
    awaited: list[str | None] = []

    def at_once(conn: Connection, event: Event) -> bool:
        if conn.device_id == "slow":
            return False  # it would have to wait: left to the awaiting sink
        conn.push({"type": "resync"})
        return True

    async def sink(conn: Connection, event: Event) -> None:
        await asyncio.sleep(0)
        awaited.append(conn.device_id)
        conn.push({"type": "pong"})

    sockets.hub.add_sink("resync", sink, at_once)
    await sockets.hub.deliver(["acct"], {"t": "resync"})
    assert awaited == ["slow"]
    assert await _frame(quick) == {"type": "resync"}
    assert await _frame(slow) == {"type": "pong"}
    # Without an at-once sink, every socket's event is awaited.
    sockets.hub.add_sink("resync", sink)
    await sockets.hub.deliver(["acct"], {"t": "resync"})
    assert sorted(d or "" for d in awaited) == ["quick", "slow", "slow"]
    assert await _frame(quick) == {"type": "pong"}
    assert await _frame(slow) == {"type": "pong"}
    sockets.done.set()


async def test_a_sink_that_fails_for_one_socket_tells_it_to_resync_and_serves_the_others(
    aiohttp_client: Any,
) -> None:
    sockets = Sockets()
    client = await aiohttp_client(sockets.app())
    devices = {}
    for name in ("broken", "fine", "awaited"):
        devices[name] = await client.ws_connect(f"/ws?device={name}")
        await asyncio.wait_for(sockets.opened.get(), 10)

    def at_once(conn: Connection, event: Event) -> bool:
        if conn.device_id == "broken":
            raise ValueError("an event this process cannot read")
        if conn.device_id == "awaited":
            return False
        conn.push({"type": "pong"})
        return True

    async def sink(conn: Connection, event: Event) -> None:
        raise LookupError("MongoDB said no")

    sockets.hub.add_sink("typing", sink, at_once)
    await sockets.hub.deliver(["acct"], {"t": "typing", "thread": "t", "account": "a"})
    assert await _frame(devices["broken"]) == {"type": "resync"}
    assert await _frame(devices["fine"]) == {"type": "pong"}
    assert await _frame(devices["awaited"]) == {"type": "resync"}
    # The same for an event from another process.
    sockets.hub.on_remote_event("acct", {"t": "typing", "thread": "t", "account": "a"})
    assert await _frame(devices["broken"]) == {"type": "resync"}
    assert await _frame(devices["fine"]) == {"type": "pong"}
    assert await _frame(devices["awaited"]) == {"type": "resync"}
    sockets.done.set()
