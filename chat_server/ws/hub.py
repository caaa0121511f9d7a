"""The sockets of this process, indexed by account, and how events reach them.

A :class:`Connection` owns one WebSocket and a bounded send queue drained by its own
writer task: a slow reader fills its queue and is disconnected (close 4008, it
resumes later from its cursors) instead of growing server memory. The queue is for
backpressure only: a frame that finds it empty and the socket's buffer with room is
written without it (an ``asyncio.Queue`` put and get and a task switch cost about 3 µs
per frame in a micro-benchmark, for a message's ack and its ``msg`` each). Such frames
are held until the end of the event loop's turn and go out together, in one write
system call per socket and turn: under load a socket is often sent several frames in
one turn (the acks of the sends one batch wrote, its peer's messages, a ``delivered``
notice), and each write was a system call of its own. The :class:`Hub`
routes an event to every local socket of the named accounts and hands it to the
broker for the other processes; events from the broker come back in through
:meth:`Hub.on_remote_event`.

Event kinds are handled by sinks registered with :meth:`Hub.add_sink` (the table is
``SINKS`` in ``chat_server/ws/frames.py``); a sink turns an event into frames for one
connection (for example by loading the message it names
from MongoDB), so events themselves stay ids-only. A kind sent once per message may
also have a sink that pushes at once (``SINKS_AT_ONCE``), when what it needs is
already in memory: no coroutine per socket and event then; it declines (returns
False) whenever it would have to wait, and the awaiting sink takes the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from weakref import WeakSet

from aiohttp import web

from chat_server.errors import WS_GOING_AWAY, WS_TOO_SLOW
from chat_server.events import Event
from chat_server.fanout import Broker
from chat_server.metrics import Metrics
from chat_server.schemas import json_bytes
from e2e_crypto.frames import ServerFrame

log = logging.getLogger(__name__)

Sink = Callable[["Connection", Event], Awaitable[None]]
# Pushes without awaiting if it can; False: it did nothing, the awaiting sink must.
SinkAtOnce = Callable[["Connection", Event], bool]


def frame_text(frame: object) -> str:
    """A frame's compact JSON (:func:`~chat_server.schemas.json_bytes`)."""
    return json_bytes(frame).decode()


# A server's text frame header (RFC 6455 5.2: FIN and opcode 1, unmasked), by length.
_HEADER_SHORT, _HEADER_16, _HEADER_64 = (
    struct.Struct("!BB"),
    struct.Struct("!BBH"),
    struct.Struct("!BBQ"),
)
_FIN_TEXT = 0x81
# Written at once only below this many buffered bytes: asyncio's default high-water
# mark, where the transport would start pushing back on aiohttp's own writer.
DIRECT_WRITE_BELOW = 64 * 1024


def text_frame(text: str) -> bytes:
    """``text`` as one unmasked, uncompressed WebSocket text frame, as aiohttp writes it."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return _HEADER_SHORT.pack(_FIN_TEXT, size) + payload
    if size < 65536:
        return _HEADER_16.pack(_FIN_TEXT, 126, size) + payload
    return _HEADER_64.pack(_FIN_TEXT, 127, size) + payload


class Connection:
    """One authenticated (or still authenticating) WebSocket."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        queue_frames: int,
        metrics: Metrics,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.ws = ws
        self.account_id: str | None = None
        self.device_id: str | None = None
        self.session_id: str | None = None
        self.state: dict[str, Any] = {}
        self._metrics = metrics
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(queue_frames)
        # The socket's own transport, for frames written at once (``_write_now``);
        # without one every frame goes through the queue.
        self._transport = transport
        # Frames written without the queue in this turn of the event loop, framed, and
        # their size: they go out in one write when the turn ends (``_flush_held``).
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._loop = asyncio.get_running_loop()
        self._writer = asyncio.create_task(self._write_loop(), name="ws-writer")
        self.closing = False

    def push(self, frame: ServerFrame) -> bool:
        """Queues a frame; a full queue means the peer is too slow and is dropped."""
        return self.push_text(frame_text(frame))

    def push_text(self, text: str) -> bool:
        """Queues an already serialised frame (one serialisation for many sockets)."""
        if self.closing:
            return False
        if self._write_now(text):
            return True
        # What is held was pushed first: it goes out before the queue's frames.
        self._flush_held()
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self._metrics.ws_slow_disconnects.inc()
            self.close_soon(WS_TOO_SLOW, "too slow; reconnect and resume")
            return False
        return True

    async def push_waiting(self, frame: ServerFrame) -> bool:
        """Queues a frame the peer asked for (a sync page), waiting for room rather
        than dropping the peer: its own request paces itself."""
        if self.closing:
            return False
        text = frame_text(frame)
        if not self._write_now(text):
            self._flush_held()
            await self._queue.put(text)
        return not self.closing

    @property
    def queued(self) -> int:
        """Frames waiting for the writer task: none while the peer keeps up."""
        return self._queue.qsize()

    @property
    def held(self) -> int:
        """Frames waiting for the end of this event-loop turn, to go out in one write."""
        return len(self._held)

    def _write_now(self, text: str) -> bool:
        """Writes ``text`` to the socket without the queue, at the end of this turn,
        if that keeps the order and the backpressure: nothing is queued before it (the
        writer takes a frame off the queue and writes it without awaiting in between,
        so an empty queue means every earlier frame is in the transport or held) and
        the transport's buffer, with what is held, has room. False: queue it (after
        flushing what is held)."""
        transport = self._transport
        if (
            transport is None
            or not self._queue.empty()
            or transport.is_closing()
            or self.ws.closed
            or transport.get_write_buffer_size() + self._held_bytes >= DIRECT_WRITE_BELOW
        ):
            return False
        frame = text_frame(text)
        if not self._held:
            # Once per socket and turn: callbacks scheduled now run after everything
            # already due in this turn, so the frames it pushes share the write.
            self._loop.call_soon(self._flush_held)
        self._held.append(frame)
        self._held_bytes += len(frame)
        return True

    def _flush_held(self) -> None:
        """Writes the frames held in this turn, in the order pushed, in one write."""
        held = self._held
        if not held:
            return
        self._held = []
        self._held_bytes = 0
        transport = self._transport
        assert transport is not None
        if transport.is_closing() or self.ws.closed:
            # The socket is going (after a close frame nothing more may be sent): its
            # device resumes from its cursors, as for frames still queued.
            return
        transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close_soon(self, code: int, reason: str) -> None:
        if self.closing:
            return
        # Held frames count as written (they left the queue's order): out before the close.
        self._flush_held()
        self.closing = True
        # Drop whatever is still queued: the client resumes from its cursors.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        self._close_args = (code, reason)

    def close_after_queued(self, code: int, reason: str) -> None:
        """Closes once the frames already queued are sent: answers the peer waits for
        (a flooder's acks and refusals) are not dropped, as a slow reader's are."""
        if self.closing:
            return
        self._flush_held()
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self.close_soon(code, reason)
            return
        self.closing = True
        self._close_args = (code, reason)

    async def _write_loop(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    code, reason = self._close_args
                    await self.ws.close(code=code, message=reason.encode())
                    return
                await self.ws.send_str(item)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return

    async def close(self, code: int, reason: str) -> None:
        """Closes with ``code`` (unless a close is already under way) and waits for it."""
        self.close_soon(code, reason)
        await self.finish()

    async def finish(self) -> None:
        """Lets the writer send its close frame, then makes sure the socket is gone."""
        if not self.closing:
            self.close_soon(WS_GOING_AWAY, "bye")
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), timeout=2.0)
        except TimeoutError:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if not self.ws.closed:
            await self.ws.close(code=WS_GOING_AWAY)


class Hub:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._broker: Broker | None = None
        self._by_account: dict[str, set[Connection]] = {}
        self._sinks: dict[str, tuple[Sink, SinkAtOnce | None]] = {}
        self.connections: WeakSet[Connection] = WeakSet()

    def bind_broker(self, broker: Broker) -> None:
        self._broker = broker

    @property
    def broker(self) -> Broker:
        assert self._broker is not None, "the broker context runs before any socket opens"
        return self._broker

    def add_sink(self, kind: str, sink: Sink, at_once: SinkAtOnce | None = None) -> None:
        self._sinks[kind] = (sink, at_once)

    def register(self, conn: Connection) -> None:
        self.connections.add(conn)
        self._metrics.ws_connections.inc()

    def unregister(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self._metrics.ws_connections.dec()

    async def attach(self, conn: Connection) -> None:
        """Makes an authenticated connection reachable by account."""
        assert conn.account_id is not None
        peers = self._by_account.setdefault(conn.account_id, set())
        first = not peers
        peers.add(conn)
        if first:
            await self.broker.subscribe(conn.account_id)

    async def detach(self, conn: Connection) -> None:
        if conn.account_id is None:
            return
        peers = self._by_account.get(conn.account_id)
        if peers is None:
            return
        peers.discard(conn)
        if not peers:
            del self._by_account[conn.account_id]
            await self.broker.unsubscribe(conn.account_id)

    def local(self, account_id: str) -> frozenset[Connection]:
        return frozenset(self._by_account.get(account_id, ()))

    async def deliver(self, account_ids: Iterable[str], event: Event) -> None:
        """Sends ``event`` to every device of these accounts, here and elsewhere."""
        accounts = list(dict.fromkeys(account_ids))
        sinks = self._sinks_of(event)
        if sinks is not None:
            for account_id in accounts:
                waiting = self._dispatch_at_once(account_id, event, sinks[1])
                if waiting:
                    await self._dispatch_waiting(waiting, event, sinks[0])
        await self.broker.publish(accounts, event)

    def on_remote_event(self, account_id: str, event: Event) -> None:
        sinks = self._sinks_of(event)
        if sinks is None:
            return
        waiting = self._dispatch_at_once(account_id, event, sinks[1])
        if waiting:
            task = asyncio.create_task(self._dispatch_waiting(waiting, event, sinks[0]))
            task.add_done_callback(_log_failure)

    def _sinks_of(self, event: Event) -> tuple[Sink, SinkAtOnce | None] | None:
        sinks = self._sinks.get(str(event.get("t")))
        if sinks is None:
            log.warning("no sink for event", extra={"fields": {"event": str(event.get("t"))}})
        return sinks

    def _dispatch_at_once(
        self, account_id: str, event: Event, at_once: SinkAtOnce | None
    ) -> list[Connection]:
        """Pushes ``event`` to the account's sockets that its sink can serve without
        awaiting; returns the other open ones, for the awaiting sink."""
        conns = self._by_account.get(account_id)
        if not conns:
            return []
        if at_once is None:
            return [conn for conn in conns if not conn.closing]
        waiting = []
        # A copy: pushing never attaches or detaches a socket, but a sink is not ours to trust.
        for conn in tuple(conns):
            if conn.closing:
                continue
            try:
                if not at_once(conn, event):
                    waiting.append(conn)
            except Exception as exc:
                _fan_out_failed(conn, event, exc)
        return waiting

    async def _dispatch_waiting(self, conns: list[Connection], event: Event, sink: Sink) -> None:
        for conn in conns:
            if conn.closing:
                continue
            try:
                await sink(conn, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _fan_out_failed(conn, event, exc)

    async def resync_all(self) -> None:
        """Tells every local socket that live events may have been missed."""
        for conn in list(self.connections):
            if conn.account_id is not None:
                conn.push({"type": "resync"})

    async def close_all(self, code: int = WS_GOING_AWAY, reason: str = "server shutdown") -> None:
        conns = list(self.connections)
        await asyncio.gather(*(c.close(code, reason) for c in conns), return_exceptions=True)


def _fan_out_failed(conn: Connection, event: Event, exc: Exception) -> None:
    # The event is lost for this socket, never the message: MongoDB has it. Told to
    # resync, the device fetches what it missed (and if MongoDB is down too, that sync
    # fails and the device reconnects). The other sockets still get the event.
    log.warning(
        "fan-out to a socket failed; it is told to resync",
        extra={"fields": {"event": str(event.get("t")), "error": type(exc).__name__}},
    )
    conn.push({"type": "resync"})


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("fan-out dispatch failed", exc_info=task.exception())
