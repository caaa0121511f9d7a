"""The push that tells a patient's open sockets a practice mailing was delivered.

The frame names the campaign and the practice only; the client fetches the body and
its slips with ``GET /api/v1/announcements`` (rest/mailings.py).
"""

from __future__ import annotations

from chat_server.events import AnnouncementEvent
from chat_server.ws.context import FrameContext
from chat_server.ws.hub import Connection


async def on_announcement(ctx: FrameContext, conn: Connection, event: AnnouncementEvent) -> None:
    conn.push(
        {
            "type": "announcement",
            "campaign_id": event["campaign"],
            "practice_id": event["practice"],
        }
    )
