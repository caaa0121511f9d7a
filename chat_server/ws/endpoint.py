"""``GET /ws``: the handshake checks and the read loop of one socket.

Safe defaults that aiohttp does not give us: an Origin allow-list (a browser page on
another site must not ride on a user's session), heartbeats (dead peers are found and
dropped), a frame size limit (64 KiB by default; aiohttp closes 1009 past it) and no
compression (it costs memory per socket and invites compression side channels on
encrypted payloads).

Before a login, a socket is cheap for its holder and not for us: it must complete
``hello`` within ``ws_auth_timeout_seconds`` of opening, whatever it sends meanwhile
(one timer per socket, not a read timeout that each frame would restart), and one
client address may hold only ``ws_unauthenticated_per_ip`` such sockets at a time
(``ws/admission.py``; over it, the handshake answers 429).

A socket that keeps sending past its rate limit costs CPU with every refusal, so
refusals are cheap and a sustained flood is stopped at the door
(``moderation/floods.py``): once a send is refused, later sends on the socket are
refused without validation or a limiter call until the limiter's ``retry_after`` has
passed (no send could be allowed before: buckets only drain with time), and a run of
``ws_flood_refusals`` refusals closes the socket with 4029 and the seconds to wait,
during which its session and device get no new socket.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable
from typing import cast

from aiohttp import WSMsgType, web
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from chat_server.appkeys import (
    CLOCK,
    FRAME_CONTEXT,
    HUB,
    METRICS,
    PENDING_SOCKETS,
    ROUTER,
    SETTINGS,
)
from chat_server.errors import (
    WS_INTERNAL_ERROR,
    WS_UNAUTHENTICATED,
    WS_UNSUPPORTED_DATA,
    BadRequest,
    ChatError,
    ErrorCode,
    OriginNotAllowed,
    RateLimited,
    SocketRateLimited,
    TooManyPendingSockets,
    Unauthenticated,
    Unavailable,
)
from chat_server.logs import request_id_var
from chat_server.schemas import json_object
from chat_server.ws.hub import Connection
from chat_server.ws.router import DropFrame, FrameRouter, frame_id
from e2e_crypto.frames import AnswerFrame, ErrorFrame
from moderation.floods import RefusalRun

log = logging.getLogger(__name__)

# conn.state keys: until when (monotonic) a send is known to be refused, and the
# socket's run of refusals.
_LIMITED_UNTIL = "send_limited_until"
_REFUSALS = "refusals"
# Every field of a refusal but its ``re`` and ``retry_after``, built once.
_REFUSAL = {"type": "error", **RateLimited().to_dict()}


def check_origin(request: web.Request, allowed: tuple[str, ...]) -> None:
    """Browsers always send Origin on a WebSocket handshake; other clients may omit it.

    Cross-site WebSocket hijacking needs a browser, so an absent Origin (the Python SDK,
    a practice's own software) is allowed, and a present one must be on the list.
    """
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") not in allowed:
        raise OriginNotAllowed()


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    check_origin(request, settings.allowed_origins_or_default())
    ws = web.WebSocketResponse(
        heartbeat=settings.ws_heartbeat_seconds,
        max_msg_size=settings.ws_max_message_bytes,
        compress=False,
        autoping=True,
    )
    if not ws.can_prepare(request).ok:
        raise BadRequest("this endpoint speaks WebSocket only")
    # The client's address, as for HTTP (rest/auth.client_ip): behind trusted proxies,
    # the one they forwarded for (rest/proxies.py rewrote request.remote).
    ip = request.remote or "unknown"
    pending = app[PENDING_SOCKETS]
    if not pending.admit(ip):
        app[METRICS].ws_errors.labels("too_many_pending").inc()
        raise TooManyPendingSockets(retry_after=settings.ws_auth_timeout_seconds)
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            pending.release(ip)

    try:
        await ws.prepare(request)
        hub = app[HUB]
        conn = Connection(
            ws, settings.ws_send_queue_frames, app[METRICS], transport=request.transport
        )
        conn.state["ip"] = ip  # the principal's rate-limit address (ws/session.py)
        hub.register(conn)
        deadline = asyncio.get_running_loop().call_later(
            settings.ws_auth_timeout_seconds, _auth_deadline, app, conn
        )
        try:
            await _read_loop(app, conn, release)
        finally:
            deadline.cancel()
            await hub.detach(conn)
            hub.unregister(conn)
            await conn.finish()
    finally:
        release()
    return ws


def _auth_deadline(app: web.Application, conn: Connection) -> None:
    if conn.account_id is None:
        app[METRICS].ws_errors.labels("auth_timeout").inc()
        conn.close_soon(WS_UNAUTHENTICATED, "send hello with a ticket first")


_conn_ids = itertools.count(1)


async def _read_loop(
    app: web.Application, conn: Connection, authenticated: Callable[[], None]
) -> None:
    """Reads frames until the socket closes; calls ``authenticated`` once ``hello``
    has bound the socket to an account."""
    router = app[ROUTER]
    metrics = app[METRICS]
    conn_tag = f"ws{next(_conn_ids)}-{secrets.token_hex(3)}"
    ws = conn.ws
    while not conn.closing:
        msg = await ws.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        if msg.type is not WSMsgType.TEXT:
            metrics.ws_errors.labels("binary_frame").inc()
            conn.close_soon(WS_UNSUPPORTED_DATA, "text frames with JSON only")
            return
        await _handle_frame(app, router, conn, conn_tag, msg.data)
        if conn.account_id is not None:
            authenticated()


async def _handle_frame(
    app: web.Application, router: FrameRouter, conn: Connection, conn_tag: str, text: str
) -> None:
    metrics = app[METRICS]
    clock = app[CLOCK]
    arrived = clock.monotonic()
    raw = json_object(text)
    fid = frame_id(raw)
    limited_until = conn.state.get(_LIMITED_UNTIL)
    if limited_until is not None and limited_until > arrived and raw and raw.get("type") == "send":
        await _refuse_send(app, conn, fid, limited_until - arrived)
        return
    token = request_id_var.set(f"{conn_tag}:{fid or '-'}")
    try:
        route, fields = router.parse(raw)
        metrics.frame_in(fields["type"])
        if route.authenticated and conn.account_id is None:
            raise Unauthenticated("send hello with a ticket first")
        reply = await route.handler(app[FRAME_CONTEXT], conn, fields)
        metrics.frame_answered(fields["type"], clock.monotonic() - arrived)
        if limited_until is not None and fields["type"] == "send":
            # An accepted send after waiting: the client does slow down, and its run
            # of refusals starts again (a client that waits is never closed).
            del conn.state[_LIMITED_UNTIL]
            conn.state.pop(_REFUSALS, None)
        # Answers wait for room in the send queue: a client that floods requests
        # slows itself down. Only unsolicited pushes drop a slow reader.
        if fid is not None:
            # A frame with an id always gets an answer, so clients can wait on it.
            answer: AnswerFrame = reply or {"type": "ok"}
            answer["re"] = fid  # the handler's own fresh dict
            await conn.push_waiting(answer)
        elif reply is not None:
            await conn.push_waiting(reply)
    except DropFrame:
        metrics.ws_errors.labels("dropped").inc()
    except ChatError as exc:
        metrics.ws_errors.labels(str(exc.code)).inc()
        if exc.log_detail:
            log.info(
                "frame refused", extra={"fields": {"error": str(exc.code), "why": exc.log_detail}}
            )
        if exc.ws_close is not None:
            conn.close_soon(exc.ws_close, exc.close_reason())
        elif exc.code is ErrorCode.RATE_LIMITED and raw and raw.get("type") == "send":
            # Refused by the limiter: so is every send until retry_after.
            conn.state[_LIMITED_UNTIL] = arrived + (exc.retry_after or 0.0)
            await _refuse_send(app, conn, fid, exc.retry_after or 0.0, counted=True)
        else:
            # to_dict() is the body HTTP problems share: ErrorFrame's fields.
            error = cast(ErrorFrame, {"type": "error", "re": fid, **exc.to_dict()})
            # A refusal answers the client's own frame: like an ack it waits for room,
            # so a flood of refused sends paces itself instead of being dropped as slow.
            await conn.push_waiting(error)
    except asyncio.CancelledError:
        raise
    except (PyMongoError, RedisError) as exc:
        # The frame's effect is unknown to the client: it retries after reconnecting
        # (sends are idempotent by client_msg_id).
        metrics.ws_errors.labels("unavailable").inc()
        log.warning("dependency unavailable", extra={"fields": {"error": type(exc).__name__}})
        conn.close_soon(Unavailable.ws_close or WS_INTERNAL_ERROR, Unavailable.title)
    except Exception:
        metrics.ws_errors.labels("internal_error").inc()
        log.exception("frame handler failed")
        conn.close_soon(WS_INTERNAL_ERROR, "internal error; reconnect and resume")
    finally:
        request_id_var.reset(token)


async def _refuse_send(
    app: web.Application,
    conn: Connection,
    fid: str | None,
    retry_after: float,
    *,
    counted: bool = False,
) -> None:
    """Answers a refused send (``rate_limited``), or closes a socket whose run of
    refusals shows it does not wait (4029, its session and device barred)."""
    metrics = app[METRICS]
    if not counted:
        metrics.ws_errors.labels(str(ErrorCode.RATE_LIMITED)).inc()
    tickets = app[FRAME_CONTEXT].tickets
    run = conn.state.get(_REFUSALS)
    if run is None:
        run = conn.state[_REFUSALS] = RefusalRun(tickets.flood)
    if run.refused(app[CLOCK].monotonic()):
        barred = tickets.bar(conn.session_id, conn.device_id, retry_after)
        metrics.ws_errors.labels(str(ErrorCode.SOCKET_RATE_LIMITED)).inc()
        log.info("socket closed for flooding", extra={"fields": {"barred_seconds": barred}})
        closing = SocketRateLimited(retry_after=barred)
        conn.close_after_queued(closing.ws_close or WS_INTERNAL_ERROR, closing.close_reason())
        return
    # A refusal answers the client's own frame: like an ack it waits for room, so a
    # burst of refused sends paces itself instead of being dropped as slow.
    refusal = cast(ErrorFrame, {**_REFUSAL, "re": fid, "retry_after": round(retry_after, 3)})
    await conn.push_waiting(refusal)
