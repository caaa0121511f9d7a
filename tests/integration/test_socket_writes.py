"""A socket's frames are written at once while nothing is queued and its buffer has
room; the queue takes over only when the peer falls behind, and order holds across
both (chat_server/ws/hub.py)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiohttp import WSMsgType, web

from chat_server.metrics import Metrics
from chat_server.ws.hub import Connection

# One of each header form: 7-bit, 16-bit and 64-bit payload lengths.
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 200_000]


def _app(connections: asyncio.Queue[Connection], done: asyncio.Event) -> web.Application:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        assert request.transport is not None
        # Small kernel buffers, so a peer that stops reading fills ours soon.
        sock = request.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384)
        conn = Connection(ws, 10_000, Metrics(), transport=request.transport)
        connections.put_nowait(conn)
        await done.wait()
        await conn.close(1000, "bye")
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    return app


async def _read_texts(ws: Any, count: int) -> list[str]:
    texts = []
    for _ in range(count):
        message = await asyncio.wait_for(ws.receive(), 10)
        assert message.type is WSMsgType.TEXT, message
        texts.append(message.data)
    return texts


async def test_frames_are_written_at_once_and_read_back_whole(aiohttp_client: Any) -> None:
    connections: asyncio.Queue[Connection] = asyncio.Queue()
    done = asyncio.Event()
    client = await aiohttp_client(_app(connections, done))
    ws = await client.ws_connect("/ws")
    conn = await asyncio.wait_for(connections.get(), 10)
    texts = [f"{n}:" + "é" * n for n in (0, 1, 40, 60)] + ["x" * size for size in SIZES]
    for text in texts[:4]:
        assert conn.push_text(text)
        # Written before this coroutine gave the writer task a turn: nothing queued.
        assert conn.queued == 0
    for text in texts[4:]:
        assert conn.push_text(text)
    assert await _read_texts(ws, len(texts)) == texts
    done.set()
    assert (await ws.receive()).type is WSMsgType.CLOSE


async def test_a_reader_that_falls_behind_is_queued_in_order(aiohttp_client: Any) -> None:
    connections: asyncio.Queue[Connection] = asyncio.Queue()
    done = asyncio.Event()
    client = await aiohttp_client(_app(connections, done))
    ws = await client.ws_connect("/ws")
    conn = await asyncio.wait_for(connections.get(), 10)
    # The client stops reading; a small receive buffer fills the server's soon.
    ws.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    texts: list[str] = []
    while conn.queued < 100:  # past the buffers' room, the queue takes the rest
        texts.append(f"{len(texts):06d}" + "y" * 2_000)
        assert conn.push_text(texts[-1])
        assert len(texts) < 20_000, "the socket never pushed back"
    # Once the client reads, every frame arrives once, in the order pushed.
    assert await _read_texts(ws, len(texts)) == texts
    assert conn.queued == 0
    # With the queue drained and the buffer empty again, writes go straight out.
    await asyncio.sleep(0.05)
    assert conn.push_text("after")
    assert conn.queued == 0
    assert await _read_texts(ws, 1) == ["after"]
    done.set()
