"""The real-time connection of one device: receive, send, and survive disconnects.

::

    app ──send()──► seal ─► pending[client_msg_id] ─► "send" frame ─► server
                                   ▲   │ "ack" {seq}      │ "error" recipients_changed
                                   │   └─► future.set ◄───┘ refresh devices, re-seal
      (seal only after Participants.verify: nobody outside a practice's signed
      membership list is ever a recipient; a set that differs from the one the
      Keystore saved, even across restarts, is a RecipientsNotice)
      reconnect: resend every pending envelope unchanged (the server answers
      duplicate: true for one it already stored, so nothing is sent twice)

    server ─"msg"─► Cursors (order, dedupe, gap → "sync") ─► ReplayGuard (same sender
           device and client_msg_id at another seq: dropped) ─► open (verify+decrypt)
           ─► queue ─► messages() ─► app;  consumed seqs ─► "delivered" (batched)

One task (``_run``) owns the socket: connect with a fresh ticket, ``hello``,
``sync`` with explicit cursors for every known thread, resend what is pending, then
read frames until the socket ends; a going-away (1001), abnormal (1006), too-slow
(4008) or network failure reconnects with exponential backoff and jitter. Close
4003 (session or device revoked) stops for good and fails pending sends with
``SessionRevoked``. Close 4029 (the socket kept sending past its rate limit) and a
refused ticket (429) wait the server's ``retry_after`` before reconnecting; sends
still pending (never acknowledged) are resent then, as after any reconnect.

Cursors are explicit in every ``sync`` (0 for a thread never read, unless the app
chose ``history="new"``), so what is replayed never depends on server-side state
the SDK cannot see; ``cursors()`` lets the app persist them across restarts.
Messages this device sent itself are counted in the cursors but not delivered:
``send()`` already returned them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

import aiohttp

from e2e_crypto.client.api import Api, ThreadSummary
from e2e_crypto.client.cursors import Cursors
from e2e_crypto.client.envelopes import Envelopes
from e2e_crypto.client.errors import (
    AuthenticationError,
    CareChatError,
    CareChatSdkError,
    NotConnected,
    RateLimitedError,
    RecipientsChanged,
    SessionRevoked,
    error_from_frame,
)
from e2e_crypto.client.events import (
    Event,
    Receipt,
    RecipientsNotice,
    ThreadChanged,
    TrustAlert,
    Typing,
)
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.client.messages import ReceivedMessage, SealedMessage, Unreadable
from e2e_crypto.client.participants import Participants
from e2e_crypto.client.payloads import Attachment, Payload, encode_payload
from e2e_crypto.client.replays import ReplayGuard
from e2e_crypto.errors import MalformedData
from e2e_crypto.frames import (
    AckFrame,
    ClientFrame,
    ErrorFrame,
    HelloFrame,
    MsgFrame,
    SendFrame,
    ServerFrame,
    SyncedFrame,
)
from e2e_crypto.socket_proof import sign_socket_proof
from e2e_crypto.wire import to_base64url

__all__ = ["Backoff", "Connection", "new_client_msg_id"]

log = logging.getLogger(__name__)

WS_GOING_AWAY: Final = 1001
WS_SESSION_REVOKED: Final = 4003
WS_RATE_LIMITED: Final = 4029
WELCOME_TIMEOUT: Final = 10.0
MAX_RESEALS: Final = 3
MAX_GAP_SYNCS: Final = 3
MAX_SYNC_CURSORS: Final = 1000  # the server's limit per sync frame
ACK_DELAY: Final = 0.05
_TRUST_REASONS: Final = frozenset(
    {"sender's root key changed", "sender's device list does not verify"}
)


def retry_after_of(close_reason: object) -> float | None:
    """The seconds a 4029 close asks to wait: its reason is JSON with ``retry_after``."""
    try:
        value = json.loads(str(close_reason)).get("retry_after")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) and 0 < value <= 3600 else None


def new_client_msg_id() -> str:
    """22 base64url characters (128 random bits): unique without coordination."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``initial * factor**n`` capped at ``maximum``, full jitter."""

    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 15.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum, self.initial * self.factor**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 — jitter, not a secret


@dataclass
class _PendingSend:
    thread_id: str
    client_msg_id: str
    body: bytes
    envelope: bytes
    future: asyncio.Future[int]
    reseals: int = 0
    # Uploads this message refers to: named in clear so the server keeps them (an
    # upload no message names is purged after a grace period).
    attachments: tuple[str, ...] = ()

    def frame(self) -> SendFrame:
        frame: SendFrame = {
            "type": "send",
            "id": f"s:{self.client_msg_id}",
            "thread": self.thread_id,
            "client_msg_id": self.client_msg_id,
            "envelope": to_base64url(self.envelope),
        }
        if self.attachments:
            frame["attachments"] = list(self.attachments)
        return frame


@dataclass(frozen=True, slots=True)
class _OwnSend:
    """A seq this device sent (or a replay): advances cursors, never shown to the app."""

    thread_id: str
    seq: int


_Item = ReceivedMessage | _OwnSend


@dataclass
class _State:
    pending: dict[str, _PendingSend] = field(default_factory=dict)
    summaries: dict[str, ThreadSummary] = field(default_factory=dict)
    consumed: dict[str, int] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)  # highest seq the server named
    unacked: set[str] = field(default_factory=set)


class Connection:
    """One device's WebSocket session. Create via ``CareChatClient.connect()``."""

    def __init__(
        self,
        api: Api,
        keystore: Keystore,
        envelopes: Envelopes,
        participants: Participants,
        *,
        cursors: Mapping[str, int] | None = None,
        history: Literal["all", "new"] = "all",
        backoff: Backoff | None = None,
        queue_size: int = 10_000,
        replays: ReplayGuard | None = None,
    ) -> None:
        self._api = api
        self._keystore = keystore
        self._envelopes = envelopes
        self._participants = participants
        self._history = history
        self._backoff = backoff or Backoff()
        self._replays = replays or ReplayGuard()
        self._cursors: Cursors[SealedMessage | _OwnSend] = Cursors(cursors)
        self._state = _State(consumed=dict(cursors or {}))
        self._inbox: asyncio.Queue[_Item | CareChatSdkError] = asyncio.Queue(queue_size)
        self._events: asyncio.Queue[Event] = asyncio.Queue(1000)
        # Security notices (recipients changed, trust alerts) never make room for
        # typing frames: their own queue, unbounded, read first.
        self._notices: asyncio.Queue[Event] = asyncio.Queue()
        self._event_arrived = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._failure: CareChatSdkError | None = None
        self._closing = False
        self._syncing = False
        self._sync_again = False
        self._gap_syncs = 0
        self._frame_ids = itertools.count(1)
        self._ack_task: asyncio.Task[None] | None = None
        self._reseal_tasks: set[asyncio.Task[None]] = set()
        self.connects = 0  # how many times a socket was (re)established, for monitoring
        self._close_wait = 0.0  # seconds the last close (4029) asked to wait

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, authenticate and sync; raises if the first connection fails."""
        if self._task is not None:
            return
        self._ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name="carechat-connection")
        await self._ready

    async def close(self) -> None:
        """Stop; pending sends fail with NotConnected (their outcome is unknown)."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        for task in [self._task, self._ack_task, *self._reseal_tasks]:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._fail(NotConnected("the connection was closed"))

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    def cursors(self) -> dict[str, int]:
        """Per-thread seqs handed to the app: persist them to resume after a restart."""
        return dict(self._state.consumed)

    # -- what the app calls ------------------------------------------------------------------

    async def receive(self) -> ReceivedMessage:
        """The next message of any thread: each once, in seq order per thread.

        Raises SessionRevoked when the server revoked the session or device, and
        NotConnected after ``close()``.
        """
        while True:
            item = await self._inbox.get()
            if isinstance(item, CareChatSdkError):
                self._inbox.put_nowait(item)  # every later reader sees the end too
                raise item
            self._consumed(item.thread_id, item.seq)
            if isinstance(item, ReceivedMessage):
                return item

    async def messages(self) -> AsyncIterator[ReceivedMessage]:
        """``receive()`` as an async iterator."""
        while True:
            yield await self.receive()

    async def events(self) -> AsyncIterator[Event]:
        """Notices (RecipientsNotice, TrustAlert) first, then receipts, typing and
        thread changes. Those may be dropped, oldest first, past 1000 unread; a
        notice never is."""
        while True:
            if not self._notices.empty():
                yield self._notices.get_nowait()
            elif not self._events.empty():
                yield self._events.get_nowait()
            else:
                self._event_arrived.clear()
                await self._event_arrived.wait()

    async def send(
        self, thread_id: str, payload: Payload, *, client_msg_id: str | None = None
    ) -> int:
        """Encrypt ``payload`` to the thread's devices, send it, and return its seq.

        Survives disconnects (the same envelope is resent until acknowledged).
        Raises CareChatError if the server refuses it (e.g. ``thread_closed``),
        RootKeyChanged/UntrustedDirectory if a participant's keys cannot be verified,
        GhostRecipient if a participant is outside the practice's verified membership.
        """
        self._check_usable()
        body = encode_payload(payload)
        cmid = client_msg_id or new_client_msg_id()
        summary = await self._summary(thread_id)
        await self._participants.verify(summary)
        envelope = await self._envelopes.seal(thread_id, cmid, body, summary.participants)
        pending = _PendingSend(
            thread_id,
            cmid,
            body,
            envelope,
            asyncio.get_running_loop().create_future(),
            attachments=(payload.attachment_id,) if isinstance(payload, Attachment) else (),
        )
        self._state.pending[cmid] = pending
        if self.connected:
            await self._send_frame(pending.frame())
        return await asyncio.shield(pending.future)

    async def read(self, thread_id: str, seq: int) -> None:
        """Mark ``thread_id`` read up to ``seq`` (others see a receipt)."""
        await self._send_frame({"type": "read", "thread": thread_id, "seq": seq}, required=True)

    async def typing(self, thread_id: str) -> None:
        await self._send_frame({"type": "typing", "thread": thread_id}, required=True)

    # -- the socket task ---------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                ws = await self._open()
            except (AuthenticationError, SessionRevoked) as exc:
                self._fail(exc)
                return
            except (aiohttp.ClientError, OSError, TimeoutError, CareChatError) as exc:
                if not self._is_ready():
                    self._fail(exc if isinstance(exc, CareChatError) else NotConnected(str(exc)))
                    return
                log.info("connect failed; retrying", extra={"fields": {"error": repr(exc)}})
                if isinstance(exc, RateLimitedError) and exc.retry_after:
                    # The server said how long: hammering it sooner only gets refused.
                    await asyncio.sleep(exc.retry_after)
                else:
                    await asyncio.sleep(self._backoff.delay(attempt))
                    attempt += 1
                continue
            attempt = 0
            self._ws = ws
            self._close_wait = 0.0
            self.connects += 1
            try:
                await self._resume()
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
                await self._read_loop(ws)
            except (aiohttp.ClientError, OSError, ConnectionError) as exc:
                log.info("connection lost", extra={"fields": {"error": repr(exc)}})
                if not self._is_ready():
                    self._fail(NotConnected(f"could not resume: {exc!r}"))
                    return
            except CareChatError as exc:
                # e.g. the thread list could not be fetched while resuming: retry,
                # unless the session is gone or this is the first connection.
                log.info("resume failed", extra={"fields": {"error": repr(exc)}})
                if isinstance(exc, AuthenticationError) or not self._is_ready():
                    self._fail(exc)
                    return
            finally:
                self._ws = None
                self._syncing = False
                await ws.close()
            if ws.close_code == WS_SESSION_REVOKED:
                self._fail(SessionRevoked("the session or this device was revoked; log in again"))
                return
            if ws.close_code == WS_RATE_LIMITED and not self._closing:
                # Closed while resuming, the reason unread: the ticket's 429 says how long.
                await asyncio.sleep(self._close_wait or self._backoff.delay(attempt))
                continue
            if not self._closing:
                await asyncio.sleep(self._backoff.delay(attempt))
                attempt += 1

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        ticket = await self._api.ws_ticket(self._keystore.device_id)
        ws = await self._api.ws_connect()
        try:
            # Proves this socket holds the device key, once, instead of the server
            # verifying every envelope's signature (docs/adr/0004).
            proof = to_base64url(sign_socket_proof(self._keystore.device, ticket))
            hello: HelloFrame = {"type": "hello", "id": "hello", "ticket": ticket, "proof": proof}
            await ws.send_json(hello)
            msg = await ws.receive(timeout=WELCOME_TIMEOUT)
            if msg.type is aiohttp.WSMsgType.TEXT:
                frame = json.loads(msg.data)
                if frame.get("type") == "welcome":
                    return ws
            code = ws.close_code
            reason = msg.extra if msg.type is aiohttp.WSMsgType.CLOSE else None
        except BaseException:
            await ws.close()
            raise
        await ws.close()
        if code == WS_SESSION_REVOKED:
            raise SessionRevoked("the session or this device was revoked; log in again")
        if code == WS_RATE_LIMITED:
            # A ticket taken before the bar: refused at hello, with the wait.
            raise RateLimitedError(
                0, "socket_rate_limited", "rate limited", retry_after=retry_after_of(reason)
            )
        raise ConnectionError(f"hello refused (close {code})")

    async def _resume(self) -> None:
        """After (re)connecting: learn the threads, sync, resend, re-ack."""
        for summary in await self._api.threads():
            self._learn(summary)
        await self._sync()
        for pending in list(self._state.pending.values()):
            await self._send_frame(pending.frame())
        self._state.unacked |= set(self._state.consumed)
        self._schedule_acks()

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.CLOSE and msg.data == WS_RATE_LIMITED:
                self._close_wait = retry_after_of(msg.extra) or self._backoff.maximum
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            try:
                frame = json.loads(msg.data)
            except ValueError:
                log.warning("server sent a frame that is not JSON")
                continue
            if isinstance(frame, dict) and isinstance(frame.get("type"), str):
                # Typed by its "type"; the fields are still checked where they are read.
                await self._dispatch(cast(ServerFrame, frame))

    async def _dispatch(self, frame: ServerFrame) -> None:
        if frame["type"] == "msg":
            await self._on_msg(frame)
        elif frame["type"] == "ack":
            await self._on_ack(frame)
        elif frame["type"] == "error":
            self._on_error(frame)
        elif frame["type"] == "synced":
            await self._on_synced(frame)
        elif frame["type"] == "resync":
            await self._sync()
        elif frame["type"] == "receipt":
            self._event(Receipt.from_frame(frame))
        elif frame["type"] == "typing":
            self._event(Typing.from_frame(frame))
        elif frame["type"] == "thread":
            changed = ThreadChanged.from_frame(frame)
            self._learn(changed.thread)
            self._event(changed)

    # -- receiving ---------------------------------------------------------------------------

    async def _on_msg(self, frame: MsgFrame) -> None:
        try:
            sealed = SealedMessage.from_json(frame)
        except MalformedData:
            log.warning("server sent a malformed msg frame")
            return
        self._saw(sealed.thread_id, sealed.seq)
        released, gap = self._cursors.offer(sealed.thread_id, sealed.seq, sealed)
        await self._release(released)
        if gap:
            await self._sync()

    async def _release(self, items: list[SealedMessage | _OwnSend]) -> None:
        for item in items:
            if isinstance(item, SealedMessage) and item.sender_device == self._keystore.device_id:
                item = _OwnSend(item.thread_id, item.seq)
            elif isinstance(item, SealedMessage) and self._replays.is_replay(
                item.thread_id, item.sender_device, item.client_msg_id, item.seq
            ):
                # The seq is real (seqs stay contiguous) but its message is not new.
                log.warning(
                    "replayed envelope dropped",
                    extra={"fields": {"thread": item.thread_id, "seq": item.seq}},
                )
                item = _OwnSend(item.thread_id, item.seq)
            if isinstance(item, _OwnSend):
                if self._inbox.empty():
                    self._consumed(item.thread_id, item.seq)  # nothing before it to wait for
                else:
                    await self._inbox.put(item)
                continue
            received = await self._envelopes.open(item)
            if (
                isinstance(received.payload, Unreadable)
                and received.payload.reason in _TRUST_REASONS
            ):
                self._event(
                    TrustAlert(
                        item.thread_id, item.seq, item.sender_account, received.payload.reason
                    )
                )
            await self._inbox.put(received)

    async def _sync(self) -> None:
        if self._syncing:
            self._sync_again = True
            return
        self._syncing, self._sync_again = True, False
        # Only threads that may have something new; a thread left out is caught up
        # already (or, at worst, replayed from the server's stored cursor and the
        # duplicates dropped). Past the server's per-frame limit, sync in rounds.
        behind = {
            thread_id: seq
            for thread_id, seq in self._cursors.snapshot().items()
            if seq < self._state.last_seq.get(thread_id, seq + 1)
        }
        if len(behind) > MAX_SYNC_CURSORS:
            behind = dict(sorted(behind.items())[:MAX_SYNC_CURSORS])
            self._sync_again = True
        await self._send_frame(
            {"type": "sync", "id": f"y{next(self._frame_ids)}", "cursors": behind}
        )

    async def _on_synced(self, frame: SyncedFrame) -> None:
        self._syncing = False
        last_seqs = frame.get("threads")
        if isinstance(last_seqs, dict):
            for thread_id, seq in last_seqs.items():
                if isinstance(seq, int):
                    self._saw(str(thread_id), seq)
        if frame.get("more") or self._sync_again:
            await self._sync()
        elif self._cursors.has_gaps():
            # A gap that a full sync did not fill: retry a few times, then wait for
            # the next message or reconnect rather than hammer the server.
            self._gap_syncs += 1
            if self._gap_syncs <= MAX_GAP_SYNCS:
                await self._sync()
            else:
                log.warning("a gap persists after sync; waiting")
        else:
            self._gap_syncs = 0

    def _consumed(self, thread_id: str, seq: int) -> None:
        if seq > self._state.consumed.get(thread_id, 0):
            self._state.consumed[thread_id] = seq
            self._state.unacked.add(thread_id)
            self._schedule_acks()

    def _schedule_acks(self) -> None:
        if self._state.unacked and (self._ack_task is None or self._ack_task.done()):
            self._ack_task = asyncio.create_task(self._flush_acks(), name="carechat-acks")

    async def _flush_acks(self) -> None:
        # Batched: one cumulative "delivered" per thread per ACK_DELAY, not per message.
        await asyncio.sleep(ACK_DELAY)
        while self._state.unacked and self.connected:
            thread_id = self._state.unacked.pop()
            seq = self._state.consumed[thread_id]
            try:
                await self._send_frame({"type": "delivered", "thread": thread_id, "seq": seq})
            except NotConnected:
                self._state.unacked.add(thread_id)  # resent after the reconnect
                return

    # -- sending -----------------------------------------------------------------------------

    async def _on_ack(self, frame: AckFrame) -> None:
        pending = self._state.pending.pop(str(frame.get("client_msg_id")), None)
        if pending is None:
            return
        seq = int(frame["seq"])
        if frame.get("duplicate"):
            log.debug("resent message was already stored", extra={"fields": {"seq": seq}})
        if not pending.future.done():
            pending.future.set_result(seq)
        # The server may or may not echo our own message to this device; counting it
        # here keeps the cursor contiguous either way (an echo is then a duplicate).
        self._saw(pending.thread_id, seq)
        released, _gap = self._cursors.offer(
            pending.thread_id, seq, _OwnSend(pending.thread_id, seq)
        )
        await self._release(released)

    def _on_error(self, frame: ErrorFrame) -> None:
        ref = str(frame.get("re") or "")
        error = error_from_frame(frame)
        if ref.startswith("y"):
            self._syncing = False
            log.warning("sync refused", extra={"fields": {"code": error.code}})
            return
        pending = self._state.pending.get(ref[2:]) if ref.startswith("s:") else None
        if pending is None:
            log.info("server error", extra={"fields": {"code": error.code, "re": ref}})
            return
        if isinstance(error, RecipientsChanged) and pending.reseals < MAX_RESEALS:
            pending.reseals += 1
            self._spawn(self._reseal(pending))
            return
        del self._state.pending[pending.client_msg_id]
        if not pending.future.done():
            pending.future.set_exception(error)

    async def _reseal(self, pending: _PendingSend) -> None:
        """Same client_msg_id, fresh envelope for the thread's current devices."""
        try:
            summary = await self._api.thread(pending.thread_id)
            self._learn(summary)
            await self._participants.verify(summary)
            pending.envelope = await self._envelopes.seal(
                pending.thread_id,
                pending.client_msg_id,
                pending.body,
                summary.participants,
                refresh=True,
            )
        except CareChatSdkError as exc:
            self._state.pending.pop(pending.client_msg_id, None)
            if not pending.future.done():
                pending.future.set_exception(exc)
            return
        if self.connected:
            await self._send_frame(pending.frame())

    # -- plumbing ----------------------------------------------------------------------------

    def _saw(self, thread_id: str, seq: int) -> None:
        if seq > self._state.last_seq.get(thread_id, 0):
            self._state.last_seq[thread_id] = seq

    def _learn(self, summary: ThreadSummary) -> None:
        self._saw(summary.thread_id, summary.last_seq)
        self._state.summaries[summary.thread_id] = summary
        # Compared with the set the keystore saved, not this connection's memory, so a
        # change made while the app was closed is announced after a restart too.
        known = self._keystore.recipients(summary.thread_id)
        self._keystore.remember_recipients(summary.thread_id, summary.participants)
        if known is not None and set(known) != set(summary.participants):
            # Never silently: the app shows who joined or left the conversation.
            before, after = set(known), set(summary.participants)
            self._event(
                RecipientsNotice(
                    summary.thread_id, tuple(sorted(after - before)), tuple(sorted(before - after))
                )
            )
        if self._history == "new":
            self._cursors.start_at(summary.thread_id, summary.last_seq)
            self._state.consumed.setdefault(summary.thread_id, summary.last_seq)
        else:
            self._cursors.start_at(summary.thread_id, 0)

    async def _summary(self, thread_id: str) -> ThreadSummary:
        if thread_id not in self._state.summaries:
            self._learn(await self._api.thread(thread_id))
        return self._state.summaries[thread_id]

    async def _send_frame(self, frame: ClientFrame, *, required: bool = False) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            if required:
                raise NotConnected("not connected; the frame was not sent")
            return  # pending sends and acks are replayed after the reconnect
        try:
            await ws.send_str(json.dumps(frame, separators=(",", ":")))
        except (aiohttp.ClientError, ConnectionError) as exc:
            if required:
                raise NotConnected(str(exc)) from None

    def _event(self, event: Event) -> None:
        if isinstance(event, RecipientsNotice | TrustAlert):
            self._notices.put_nowait(event)
        else:
            if self._events.full():
                self._events.get_nowait()
            self._events.put_nowait(event)
        self._event_arrived.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._reseal_tasks.add(task)
        task.add_done_callback(self._reseal_tasks.discard)

    def _is_ready(self) -> bool:
        return self._ready is not None and self._ready.done()

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._task is None:
            raise NotConnected("call start() first")

    def _fail(self, error: CareChatSdkError) -> None:
        if self._failure is None:
            self._failure = error
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        for pending in self._state.pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        self._state.pending.clear()
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(error)
