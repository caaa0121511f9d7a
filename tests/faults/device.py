"""A client device that survives faults the way a real one must.

A :class:`ResilientDevice` keeps one WebSocket open to whichever server process
answers (a keeper task reconnects after every cut, close or dead process), resumes
with ``sync`` from its contiguous per-thread cursors, syncs again on a gap, a
``resync`` frame or ``more``, and resends every unacknowledged message with the same
``client_msg_id`` and envelope until it is acked — unless the send is one the test
lets it give up on. Every send and attempt goes to a :class:`Ledger`, every ``msg``
frame to the device's :class:`Inbox`; the checker takes it from there.

It talks to the servers over real HTTP and WebSocket only, and can run in another OS
process (``tests/faults/slow_reader.py``) with nothing but a session token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType

from e2e_crypto.envelope import seal_message
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import to_base64url
from tests.faults.ledger import Attempt, DeviceRef, Inbox, Ledger, Outcome, Received, SendRecord

# Refusals that say "not now": the send was not stored, try again later.
RETRY_LATER = frozenset({"rate_limited", "unavailable"})
BROKEN = (ConnectionError, RuntimeError, aiohttp.ClientError)


@dataclass(frozen=True, slots=True)
class Identity:
    """What a device needs to connect: its account, its id and a session token."""

    account_id: str
    device_id: str
    token: str

    @property
    def ref(self) -> DeviceRef:
        return (self.account_id, self.device_id)


class ResilientDevice:
    def __init__(
        self,
        identity: Identity,
        bases: list[str],
        rng: random.Random,
        *,
        keys: DeviceKeys | None = None,
        ledger: Ledger | None = None,
        on_frame: Callable[[Received], object] | None = None,
        on_status: Callable[[dict[str, Any]], object] | None = None,
        ack_timeout: float = 15.0,
        receive_buffer: int | None = None,
    ) -> None:
        self.identity = identity
        self.bases = bases
        self.rng = rng
        self.keys = keys
        self.ledger = ledger if ledger is not None else Ledger()
        self.inbox = Inbox(identity.ref)
        self.ack_timeout = ack_timeout
        self._receive_buffer = receive_buffer
        self._on_frame = on_frame
        self._on_status = on_status
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.base: str | None = None  # the process of the current connection
        self.connections = 0  # welcomes so far
        self.caught_up_on = 0  # the connection on which a sync last completed
        self.resyncs = 0
        self.close_codes: Counter[int | None] = Counter()
        self.errors: list[dict[str, Any]] = []  # error frames that answered nothing
        self._http: aiohttp.ClientSession | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._sync_pending = False
        self._sync_wanted = False

    @property
    def ref(self) -> DeviceRef:
        return self.identity.ref

    @property
    def syncing(self) -> bool:
        return self._sync_pending

    # -- connection -------------------------------------------------------------------

    async def start(self) -> None:
        """Starts the keeper and waits for the first welcome."""
        connector = None
        if self._receive_buffer is not None:
            size = self._receive_buffer

            def small_window(address: AddrInfoType) -> socket.socket:
                # Set before connecting, so the window the server sees is small too.
                sock = socket.socket(*address[:3])
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
                return sock

            connector = aiohttp.TCPConnector(socket_factory=small_window)
        self._http = aiohttp.ClientSession(connector=connector)
        self._keeper = asyncio.create_task(self._keep(), name=f"keeper {self.ref}")
        await asyncio.wait_for(self._wait_ready(), 30)

    async def _keep(self) -> None:
        while True:
            ws = await self._open()
            self.ws = ws
            self.connections += 1
            self._sync_pending = self._sync_wanted = False
            reader = asyncio.create_task(self._read(ws))
            self._status({"welcome": self.connections, "base": self.base})
            self._ready.set()
            await self._request_sync(ws)
            try:
                await reader
            finally:
                if not reader.done():
                    reader.cancel()  # the keeper itself is being cancelled
                self._ready.clear()
                self.close_codes[ws.close_code] += 1
                self._status({"closed": ws.close_code})
                for future in self._acks.values():
                    if not future.done():
                        future.set_exception(ConnectionError("connection lost"))
                self._acks.clear()

    def _status(self, event: dict[str, Any]) -> None:
        if self._on_status is not None:
            self._on_status(event)

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        """A welcomed socket on some live process; retried until one answers."""
        assert self._http is not None
        delay = 0.05
        while True:
            base = self.rng.choice(self.bases)
            ws: aiohttp.ClientWebSocketResponse | None = None
            try:
                async with self._http.post(
                    base + "/api/v1/ws-tickets",
                    json={"device_id": self.identity.device_id},
                    headers={"Authorization": f"Bearer {self.identity.token}"},
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as response:
                    ticket = (await response.json())["ticket"] if response.status == 201 else None
                if ticket is not None:
                    ws = await self._http.ws_connect(
                        base + "/ws", timeout=aiohttp.ClientWSTimeout(ws_close=2.0)
                    )
                    await ws.send_json({"type": "hello", "ticket": ticket})
                    welcome = await ws.receive(timeout=15)
                    if (
                        welcome.type is aiohttp.WSMsgType.TEXT
                        and json.loads(welcome.data)["type"] == "welcome"
                    ):
                        self.base = base
                        return ws
            except (*BROKEN, OSError, TimeoutError, ValueError):
                pass
            if ws is not None:
                with contextlib.suppress(*BROKEN, OSError, TimeoutError):
                    await ws.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            kind = frame["type"]
            if kind == "msg":
                received = Received.from_frame(frame)
                gap = self.inbox.accept(received)
                if self._on_frame is not None:
                    self._on_frame(received)
                if gap:
                    await self._request_sync(ws)
            elif kind == "resync":
                # The server may have missed live events (Redis came back): catch up.
                self.resyncs += 1
                await self._request_sync(ws)
            elif kind == "synced":
                await self._on_synced(ws, frame)
            elif frame.get("re") in self._acks:
                future = self._acks.pop(frame["re"])
                if not future.done():
                    future.set_result(frame)
            elif kind == "error":
                self.errors.append(frame)

    async def _request_sync(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        if self._sync_pending:
            self._sync_wanted = True  # once the answer is in
            return
        self._sync_pending, self._sync_wanted = True, False
        with contextlib.suppress(*BROKEN):
            await ws.send_json({"type": "sync", "cursors": self.inbox.cursors()})

    async def _on_synced(self, ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> None:
        self._sync_pending = False
        behind = any(self.inbox.cursor(t) < last for t, last in frame["threads"].items())
        if frame["more"] or self._sync_wanted or behind:
            await self._request_sync(ws)
        else:
            self.caught_up_on = self.connections

    async def cut(self) -> None:
        """Drops the current connection, as a network would; the keeper reconnects."""
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(*BROKEN, OSError, TimeoutError):
                await self.ws.close()

    async def settle(self, seconds: float = 30.0) -> None:
        """A last fresh connection and a complete sync of every thread."""
        before = self.connections
        await self.cut()
        deadline = asyncio.get_running_loop().time() + seconds
        while self.caught_up_on <= before:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{self.ref} did not catch up in {seconds} s")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        await self.cut()
        if self._http is not None:
            await self._http.close()

    # -- sending ----------------------------------------------------------------------

    async def send(
        self,
        thread: str,
        to: list[VerifiedDevice],
        text: str,
        *,
        persistent: bool = True,
        poison: bool = False,
    ) -> SendRecord:
        """Sends one message; a persistent send retries until it is acked.

        A poison send is sealed under another client message id than the one it is
        sent with, so the server must refuse it (``invalid_envelope``).
        """
        assert self.keys is not None, "a receive-only device cannot send"
        cmid = secrets.token_urlsafe(12)
        envelope = to_base64url(
            seal_message(
                self.keys,
                thread_id=thread,
                client_msg_id=secrets.token_urlsafe(12) if poison else cmid,
                body=text.encode(),
                to_devices=to,
            )
        )
        record = self.ledger.invoke(thread, self.ref, cmid, poison=poison)
        frame = {"type": "send", "thread": thread, "client_msg_id": cmid, "envelope": envelope}
        while True:
            attempt = await self._attempt(frame)
            record.attempts.append(attempt)
            if attempt.outcome is Outcome.ACKED:
                return record
            if attempt.outcome is Outcome.REFUSED and attempt.why not in RETRY_LATER:
                return record  # a definite no: resending would get the same answer
            if not persistent:
                return record
            await asyncio.sleep(0.05 if attempt.outcome is Outcome.REFUSED else 0.01)

    async def _wait_ready(self) -> None:
        while not self._ready.is_set():
            if self._keeper is not None and self._keeper.done():
                self._keeper.result()  # raises whatever stopped it
                raise AssertionError(f"{self.ref}: the keeper stopped")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), 0.5)

    async def _attempt(self, frame: dict[str, Any]) -> Attempt:
        await self._wait_ready()
        ws = self.ws
        assert ws is not None
        frame_id = secrets.token_hex(6)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[frame_id] = future
        try:
            await ws.send_json({**frame, "id": frame_id})
            answer = await asyncio.wait_for(future, self.ack_timeout)
        except TimeoutError:
            # A connection that does not answer is as good as dead: drop it.
            self._acks.pop(frame_id, None)
            await self.cut()
            return Attempt(Outcome.UNCERTAIN, why="no answer in time")
        except BROKEN as exc:
            self._acks.pop(frame_id, None)
            return Attempt(Outcome.UNCERTAIN, why=type(exc).__name__)
        if answer["type"] == "ack":
            assert (answer["thread"], answer["client_msg_id"]) == (
                frame["thread"], frame["client_msg_id"],
            ), answer  # fmt: skip
            return Attempt(Outcome.ACKED, seq=answer["seq"])
        assert answer["type"] == "error", answer
        return Attempt(Outcome.REFUSED, why=str(answer["code"]))
