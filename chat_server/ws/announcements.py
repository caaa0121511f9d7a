"""The push that tells a patient's open sockets a practice mailing was delivered.

The frame names the campaign and the practice only; the client fetches the body and
its slips with ``GET /api/v1/announcements`` (rest/mailings.py). The event may come
from another process through Redis, a trust boundary: the push is made only for a
campaign MongoDB says was delivered to this socket's account, naming the practice
MongoDB has for it.
"""

from __future__ import annotations

import logging

from chat_server.events import AnnouncementEvent
from chat_server.ws.context import FrameContext
from chat_server.ws.hub import Connection

log = logging.getLogger(__name__)


async def on_announcement(ctx: FrameContext, conn: Connection, event: AnnouncementEvent) -> None:
    campaign = event.get("campaign")
    practice = None
    if isinstance(campaign, str) and conn.account_id is not None:
        practice = await ctx.announcements.delivered_from(conn.account_id, campaign)
    if practice is None:
        log.warning("fan-out event refused", extra={"fields": {"event": "announcement"}})
        return
    conn.push({"type": "announcement", "campaign_id": campaign, "practice_id": practice})
