"""The two outer edges the SDK must survive, as real loopback servers.

``Blackout`` is a TCP relay between the SDK and the CareChat server whose
connections the test can cut at will: the SDK sees exactly what a dropped Wi-Fi
link produces (an abnormal close, 1006), not a polite close frame.

``LyingServer`` is an HTTP reverse proxy that forwards every request to the real
server and lets a test rewrite JSON answers: the hostile or compromised server the
end-to-end encryption is designed against (e.g. slipping its own device into a
patient's device list).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

Rewrite = Callable[[str, Any], Any]


class Blackout:
    """A TCP relay to ``target_port``; ``cut()`` drops every open connection."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.down = False
        self.muted = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:  # the link is down: connections die at once
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, downstream=False)),
            asyncio.create_task(self._pump(up_reader, writer, downstream=True)),
        ]
        self._tasks.update(pumps)
        for pump in pumps:
            pump.add_done_callback(self._tasks.discard)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        self._close(writer)
        self._close(up_writer)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, downstream: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if downstream and self.muted:
                    continue  # the server's answers are lost on the way back
                writer.write(data)
                await writer.drain()

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self._writers.discard(writer)
        transport = writer.transport
        if not transport.is_closing():
            transport.abort()  # RST-like: no close frame, no FIN handshake

    def go_down(self) -> int:
        """Cut every connection and refuse new ones until ``come_back``."""
        self.down = True
        return self.cut()

    def come_back(self) -> None:
        self.down = False
        self.muted = False

    def cut(self) -> int:
        """Abort every relayed connection; returns how many were cut."""
        writers = list(self._writers)
        for writer in writers:
            self._close(writer)
        return len(writers) // 2

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class LyingServer:
    """Forwards to ``upstream``; ``rewrite(path, body)`` may alter JSON answers."""

    def __init__(self, upstream: str) -> None:
        self._upstream = URL(upstream)
        self.rewrite: Rewrite | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {
            k: v for k, v in request.headers.items() if k in ("Authorization", "Content-Type")
        }
        async with self._session.request(
            request.method,
            self._upstream.join(request.rel_url),
            data=await request.read(),
            headers=headers,
        ) as upstream:
            body = await upstream.read()
            content_type = upstream.headers.get("Content-Type", "")
            if self.rewrite is not None and "json" in content_type and body:
                doc = self.rewrite(request.path, json.loads(body))
                body = json.dumps(doc).encode()
            return web.Response(
                status=upstream.status, body=body, headers={"Content-Type": content_type}
            )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
