"""How model objects look on the wire: the replies and frames both transports send.

``rest/`` and ``ws/`` never import each other, yet both show threads (a reply, a
``thread`` frame) and messages (history pages, ``msg`` frames). Those shapes live here,
one function per shape, so a thread looks the same over HTTP and WebSocket. Handlers
return model objects and stores' records; they never build a reply.
"""

from __future__ import annotations

from typing import Any

from chat_server.handlers.sync import ThreadSummary
from chat_server.model.threads import Thread
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.storage.messages import StoredMessage
from e2e_crypto.frames import MsgFrame
from e2e_crypto.wire import to_base64url


def thread_reply(thread: Thread, *, unread: int | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "thread_id": thread.id,
        "kind": str(thread.kind),
        "state": str(thread.state),
        "patient_id": thread.patient_id,
        "provider": {"kind": thread.provider_kind, "id": thread.provider_id},
        "participants": list(thread.participants),
        "last_seq": thread.last_seq,
        "created_at": thread.created_at.isoformat(),
        "last_message_at": thread.last_message_at.isoformat() if thread.last_message_at else None,
        "notice": EMERGENCY_NOTICE,
    }
    if unread is not None:
        reply["unread"] = unread
    if thread.opening is not None:
        reply["opening"] = to_base64url(thread.opening)
    return reply


def thread_summary(summary: ThreadSummary) -> dict[str, Any]:
    reply = thread_reply(summary.thread, unread=summary.unread)
    reply["members"] = [
        {"account_id": m.account_id, "display_name": m.display_name, "role": m.role}
        for m in summary.members
    ]
    if summary.practitioner:
        reply["away_message"] = summary.away_message
    return reply


def message_frame(message: StoredMessage) -> MsgFrame:
    return {
        "type": "msg",
        "thread": message.thread_id,
        "seq": message.seq,
        "client_msg_id": message.client_msg_id,
        "sender": {"account": message.sender_account, "device": message.sender_device},
        "kind": message.kind,
        "envelope": to_base64url(message.envelope),
        "at": message.at.isoformat(timespec="milliseconds"),
    }
