"""The GP panel, live: what a ``queue`` event becomes on one socket.

A GP of the panel gets its fresh figures (``panel``); the patient of a question in
it gets her question's state, place and wait estimate (``question``); a GP the new
epoch removed is told so (``panel_removed``). Each view is read from MongoDB for the
socket's own account, so an event (ids only) never carries what someone may not see.
"""

from __future__ import annotations

from chat_server.errors import NotFound
from chat_server.events import QueueEvent
from chat_server.presenters import panel_stats_reply, question_status_reply
from chat_server.ws.context import FrameContext
from chat_server.ws.hub import Connection
from chat_server.ws.messaging import principal


async def on_queue(ctx: FrameContext, conn: Connection, event: QueueEvent) -> None:
    who = principal(conn)
    panel_id = event["panel"]
    if who.account_id in event.get("removed", ()):
        conn.push({"type": "panel_removed", "panel": panel_id})
        return
    try:
        stats = await ctx.panels.stats(who, panel_id)
    except NotFound:
        pass
    else:
        conn.push({"type": "panel", "panel": panel_stats_reply(stats)})
        return
    item = await ctx.questions.latest_question(who.account_id, panel_id)
    if item is not None:
        status = await ctx.questions.status_of(item)
        conn.push({"type": "question", "question": question_status_reply(status)})
