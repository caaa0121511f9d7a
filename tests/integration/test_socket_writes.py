"""A socket's frames are written without its queue while nothing is queued and its
buffer has room, those of one event-loop turn together in one write; the queue takes
over only when the peer falls behind, and order holds across both
(chat_server/ws/hub.py)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from chat_server.errors import WS_TOO_SLOW
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
        # Not for the writer task: nothing queued.
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


async def test_the_frames_of_one_turn_go_out_together_whole_and_in_order(
    aiohttp_client: Any,
) -> None:
    connections: asyncio.Queue[Connection] = asyncio.Queue()
    done = asyncio.Event()
    client = await aiohttp_client(_app(connections, done))
    ws = await client.ws_connect("/ws")
    conn = await asyncio.wait_for(connections.get(), 10)
    turns = [[f"{t}.{n}:" + "z" * (n * 37) for n in range(t + 1)] for t in range(5)]
    for texts in turns:
        for count, text in enumerate(texts, 1):
            assert conn.push_text(text)
            # Held for the end of the turn, neither written nor queued yet.
            assert (conn.held, conn.queued) == (count, 0)
        await asyncio.sleep(0)  # the turn ends: one write for all of them
        assert conn.held == 0
    sent = [text for texts in turns for text in texts]
    assert await _read_texts(ws, len(sent)) == sent
    done.set()


async def test_a_frame_that_must_queue_goes_after_those_held_before_it(
    aiohttp_client: Any,
) -> None:
    connections: asyncio.Queue[Connection] = asyncio.Queue()
    done = asyncio.Event()
    client = await aiohttp_client(_app(connections, done))
    ws = await client.ws_connect("/ws")
    conn = await asyncio.wait_for(connections.get(), 10)
    # Held: two small frames and one past the buffer's room (64 KiB) with them.
    held = ["first", "second", "b" * 70_000]
    for text in held:
        assert conn.push_text(text)
    assert (conn.held, conn.queued) == (3, 0)
    # No room left: what is held is written first, then this one queued behind it.
    assert conn.push_text("queued")
    assert (conn.held, conn.queued) == (0, 1)
    assert conn.push_text("queued too")
    assert await _read_texts(ws, 5) == [*held, "queued", "queued too"]
    done.set()


@pytest.mark.parametrize("closing", ["too slow", "after its answers"])
async def test_frames_held_when_a_socket_is_closed_go_out_before_its_close(
    aiohttp_client: Any, closing: str
) -> None:
    connections: asyncio.Queue[Connection] = asyncio.Queue()
    done = asyncio.Event()
    client = await aiohttp_client(_app(connections, done))
    ws = await client.ws_connect("/ws")
    conn = await asyncio.wait_for(connections.get(), 10)
    assert conn.push_text("ack 1")
    assert conn.push_text("ack 2")
    if closing == "too slow":
        conn.close_soon(WS_TOO_SLOW, "too slow")
    else:
        conn.close_after_queued(WS_TOO_SLOW, "too slow")
    assert not conn.push_text("after the close")
    assert await _read_texts(ws, 2) == ["ack 1", "ack 2"]
    closed = await asyncio.wait_for(ws.receive(), 10)
    assert (closed.type, closed.data) == (WSMsgType.CLOSE, WS_TOO_SLOW)
    done.set()
