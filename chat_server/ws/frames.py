"""Every WebSocket frame type and fan-out event kind, and the function that handles it.

A reader follows a frame from its ``type`` to its handler in one hop: ``FRAMES`` maps
each client frame type to its marshmallow schema (the validation source), its handler
and, for the frames sent about once per message, its fast loader; ``SINKS`` maps each
fan-out event kind (``t``) to the sink that turns it into frames for one socket, and
``SINKS_AT_ONCE`` the kinds sent once per message to a sink that does so without
awaiting when it can. The shapes are the TypedDicts of :mod:`e2e_crypto.frames`
(shared with the SDK) and
:mod:`chat_server.events`. Handlers and sinks are module-level functions taking a
:class:`~chat_server.ws.context.FrameContext`; ``chat_server/app.py`` builds that
context and binds the sinks to the hub. docs/protocol.md lists the same frame types
(tests/unit/test_frame_table.py keeps the three in step).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from chat_server.ws import announcements, messaging, panels, session
from chat_server.ws.context import FrameContext
from chat_server.ws.hub import Connection
from chat_server.ws.router import FrameRoute

FRAMES: dict[str, FrameRoute] = {
    "hello": FrameRoute(session.HelloSchema(), session.hello, authenticated=False),
    "ping": FrameRoute(session.PingSchema(), session.ping),
    "sync": FrameRoute(messaging.SyncSchema(), messaging.sync),
    "send": FrameRoute(messaging.SendSchema(), messaging.send, fast=messaging.FAST_SEND),
    "delivered": FrameRoute(
        messaging.PositionSchema(),
        messaging.delivered,
        fast=messaging.FAST_POSITION["delivered"],
    ),
    "read": FrameRoute(
        messaging.PositionSchema(), messaging.read, fast=messaging.FAST_POSITION["read"]
    ),
    "typing": FrameRoute(messaging.TypingSchema(), messaging.typing),
}

# Each sink takes its own event type (MsgEvent, ...), named by the key.
EventSink = Callable[[FrameContext, Connection, Any], Awaitable[None]]

SINKS: dict[str, EventSink] = {
    "msg": messaging.on_msg,
    "thread": messaging.on_thread,
    "receipt": messaging.on_receipt,
    "delivered": messaging.on_delivered,
    "typing": messaging.on_typing,
    "resync": messaging.on_resync,
    "revoke": session.on_revoke,
    "queue": panels.on_queue,
    "announcement": announcements.on_announcement,
}

# Each sends one frame per message and socket: these push at once when they need not
# wait for anything (the hub's ``SinkAtOnce``), and leave the event to SINKS otherwise.
EventSinkAtOnce = Callable[[FrameContext, Connection, Any], bool]

SINKS_AT_ONCE: dict[str, EventSinkAtOnce] = {
    "msg": messaging.on_msg_at_once,
    "delivered": messaging.on_delivered_at_once,
}
