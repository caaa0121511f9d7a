"""Socket authentication (``hello``), liveness (``ping``) and revocation.

``hello`` redeems a single-use ticket obtained over the authenticated HTTP session and
binds the socket to that account, session and device. Revocation travels as a
fan-out event, so logging out, changing a password, suspending an account or revoking
a device closes the matching sockets on every server process (close 4003).

The handlers are registered by frame type in ``chat_server/ws/frames.py``.
"""

from __future__ import annotations

from dataclasses import replace

import marshmallow as ma

from chat_server.errors import WS_SESSION_REVOKED, HelloAlreadySent
from chat_server.events import RevokeEvent
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.ws.context import FrameContext
from chat_server.ws.hub import Connection, Hub
from chat_server.ws.router import FrameSchema
from e2e_crypto.frames import HelloFrame, PingFrame, PongFrame, WelcomeFrame
from moderation.sanctions import Reason, close_reason


class HelloSchema(FrameSchema):
    ticket = ma.fields.String(required=True, validate=ma.validate.Length(max=128))
    # 64 bytes of Ed25519 signature, unpadded base64url.
    proof = ma.fields.String(validate=ma.validate.Length(equal=86))


class PingSchema(FrameSchema):
    pass


async def hello(ctx: FrameContext, conn: Connection, frame: HelloFrame) -> WelcomeFrame:
    if conn.account_id is not None:
        raise HelloAlreadySent("hello was already sent on this socket")
    proof = frame.get("proof")
    who = replace(await ctx.tickets.redeem_ticket(frame["ticket"], proof), ip=conn.state.get("ip"))
    conn.account_id, conn.session_id, conn.device_id = (
        who.account_id,
        who.session_id,
        who.device_id,
    )
    conn.state["principal"] = who
    # This socket's device proved it holds its signing key: its sends' signatures are
    # left to the recipients (docs/adr/0004-socket-proof-of-possession.md).
    conn.state["device_proven"] = proof is not None
    await ctx.hub.attach(conn)
    return {
        "type": "welcome",
        "account_id": who.account_id,
        "device_id": who.device_id,
        "heartbeat": ctx.heartbeat,
        "notice": EMERGENCY_NOTICE,
    }


async def ping(ctx: FrameContext, conn: Connection, frame: PingFrame) -> PongFrame:
    return {"type": "pong"}


async def on_revoke(ctx: FrameContext, conn: Connection, event: RevokeEvent) -> None:
    session, device = event.get("session"), event.get("device")
    if (session is None and device is None) or (
        (session is not None and conn.session_id == session)
        or (device is not None and conn.device_id == device)
    ):
        suspended = event.get("suspended")
        if suspended is not None:
            conn.close_soon(WS_SESSION_REVOKED, close_reason(Reason(suspended)))
        else:
            conn.close_soon(WS_SESSION_REVOKED, "session ended; log in again")


async def revoke_sockets(hub: Hub, account_id: str, session_id: str | None) -> None:
    await hub.deliver([account_id], {"t": "revoke", "session": session_id})


async def suspend_sockets(hub: Hub, account_id: str, reason: Reason) -> None:
    """Closes every socket of a suspended account, on every process, saying why."""
    await hub.deliver([account_id], {"t": "revoke", "session": None, "suspended": str(reason)})


async def revoke_device_sockets(hub: Hub, account_id: str, device_id: str) -> None:
    await hub.deliver([account_id], {"t": "revoke", "device": device_id})
