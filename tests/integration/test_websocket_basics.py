"""The /ws handshake and frame hygiene: origin, size, schema, auth, shutdown."""

import json

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from chat_server.appkeys import HUB

Client = TestClient[web.Request, web.Application]


async def test_cross_origin_handshake_is_refused(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws", headers={"Origin": "https://evil.example"})
    assert info.value.status == 403


async def test_allowed_origin_and_no_origin_may_connect(client: Client) -> None:
    for headers in ({"Origin": "http://localhost:8080"}, {"Origin": "http://127.0.0.1:8080/"}, {}):
        ws = await client.ws_connect("/ws", headers=headers)
        assert not ws.closed
        await ws.close()


async def _first(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    return await ws.receive(timeout=5)


async def test_malformed_frames_get_error_frames_and_the_socket_survives(client: Client) -> None:
    ws = await client.ws_connect("/ws")
    cases = [
        ("not json", "malformed_frame", None),
        ("[1, 2]", "malformed_frame", None),
        (json.dumps({"id": "a1"}), "malformed_frame", "a1"),
        (json.dumps({"type": 7, "id": "a2"}), "malformed_frame", "a2"),
        (json.dumps({"type": "no_such_type", "id": "a3"}), "unknown_frame_type", "a3"),
        (json.dumps({"type": "hello", "id": "a4", "extra": 1}), "malformed_frame", "a4"),
    ]
    for text, code, ref in cases:
        await ws.send_str(text)
        msg = await _first(ws)
        assert msg.type is WSMsgType.TEXT, text
        frame = json.loads(msg.data)
        assert frame["type"] == "error"
        assert frame["code"] == code, text
        assert frame["re"] == ref
    await ws.close()


async def test_binary_frames_close_with_1003(client: Client) -> None:
    ws = await client.ws_connect("/ws")
    await ws.send_bytes(b"\x00\x01")
    msg = await _first(ws)
    assert msg.type is WSMsgType.CLOSE
    assert msg.data == 1003


async def test_oversized_frames_close_with_1009(client: Client) -> None:
    ws = await client.ws_connect("/ws", max_msg_size=0)
    await ws.send_str(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    msg = await _first(ws)
    assert msg.type is WSMsgType.CLOSE
    assert msg.data == 1009


async def test_frames_before_hello_close_with_4001(client: Client) -> None:
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "ping", "id": "x"})
    msg = await _first(ws)
    assert msg.type is WSMsgType.CLOSE
    assert msg.data == 4001


async def test_silence_before_hello_closes_with_4001(client: Client) -> None:
    ws = await client.ws_connect("/ws")
    msg = await ws.receive(timeout=15)
    assert msg.type is WSMsgType.CLOSE
    assert msg.data == 4001


async def test_shutdown_closes_open_sockets_with_1001(client: Client) -> None:
    ws = await client.ws_connect("/ws")
    await client.app[HUB].close_all()
    msg = await _first(ws)
    assert msg.type is WSMsgType.CLOSE
    assert msg.data == 1001
