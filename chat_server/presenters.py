"""How model objects look on the wire: the replies and frames both transports send.

``rest/`` and ``ws/`` never import each other, yet both show threads (a reply, a
``thread`` frame) and messages (history pages, ``msg`` frames). Those shapes live here,
one function per shape, so a thread looks the same over HTTP and WebSocket. Handlers
return model objects and stores' records; they never build a reply.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chat_server.handlers.panel_members import PanelMember
from chat_server.handlers.panel_questions import QuestionStatus
from chat_server.handlers.panels import PanelStats
from chat_server.handlers.sync import ThreadSummary
from chat_server.model.paid_chats import PaidChat
from chat_server.model.queue import QueueItem
from chat_server.model.reconciliation import DailyReconciliation
from chat_server.model.threads import PaidState, Thread
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.storage.messages import StoredMessage
from chat_server.storage.panels import Panel
from e2e_crypto.frames import MsgFrame
from e2e_crypto.wire import to_base64url
from payments.terms import PaymentTerms


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


# -- the GP panel --------------------------------------------------------------------------


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


def panel_reply(panel: Panel) -> dict[str, Any]:
    settings = panel.settings
    return {
        "panel_id": panel.id,
        "name": panel.name,
        "admin_account": panel.admin_account,
        "settings": {
            "capacity": settings.capacity,
            "capacity_overrides": dict(settings.capacity_overrides),
            "lease_seconds": settings.lease_seconds,
            "max_wait_minutes": settings.max_wait_minutes,
            "follow_up_hours": settings.follow_up_hours,
            "daily_free_questions": settings.daily_free_questions,
        },
        "notice": EMERGENCY_NOTICE,
    }


def panel_member_reply(member: PanelMember) -> dict[str, Any]:
    return {
        "account_id": member.account_id,
        "display_name": member.display_name,
        "online": member.online,
    }


def queue_item_reply(item: QueueItem) -> dict[str, Any]:
    """What the server knows of a question: ids, state and times, never content."""
    reply: dict[str, Any] = {
        "question_id": item.thread_id,
        "panel_id": item.panel_id,
        "patient_id": item.patient_id,
        "state": str(item.state),
        "queued_at": item.queued_at.isoformat(),
        "overdue": item.overdue,
        "paid": item.paid,
    }
    for name, value in (
        ("claimed_by", item.claimed_by),
        ("offered_to", item.offered_to),
        ("answered_by", item.answered_by),
        ("outcome", item.outcome),
    ):
        if value is not None:
            reply[name] = str(value)
    for name, at in (("lease_until", item.lease_until), ("closes_at", item.closes_at)):
        if at is not None:
            reply[name] = at.isoformat()
    if item.offer is not None:
        reply["offer"] = {"price_cents": item.offer.price_cents, "currency": item.offer.currency}
        if item.offer.panel_id is not None:
            reply["offer"]["panel_id"] = item.offer.panel_id
    return reply


def question_status_reply(status: QuestionStatus) -> dict[str, Any]:
    return {
        **queue_item_reply(status.item),
        "position": status.position,
        # null: no honest estimate (no GP online, or no answer in the last hour)
        "estimate_seconds": _seconds(status.estimate),
        "gps_online": status.gps_online,
    }


def panel_stats_reply(stats: PanelStats) -> dict[str, Any]:
    hours = stats.recent.window.total_seconds() / 3600
    return {
        "panel_id": stats.panel_id,
        "queued": stats.queued,
        "oldest_wait_seconds": _seconds(stats.oldest_wait),
        "answered_per_hour": round(stats.recent.answered / hours, 3),
        "gps_online": stats.gps_online,
        "rating_average": None if stats.rating_average is None else round(stats.rating_average, 2),
        "rating_count": stats.rating_count,
    }


def paid_chat_reply(chat: PaidChat) -> dict[str, Any]:
    """A paid chat for its patient or its GP: ids, states, integer cents and times.
    ``charged_cents`` is what the patient finally pays (0 unless a GP answered)."""
    reply: dict[str, Any] = {
        "thread_id": chat.thread_id,
        "panel_id": chat.panel_id,
        "state": str(chat.state),
        "amount_cents": chat.amount_cents,
        "currency": chat.currency,
        "charged_cents": chat.charged_cents,
        "payment": sorted(str(f) for f in chat.facts),
        "created_at": chat.created_at.isoformat(),
    }
    if chat.checkout_url is not None and chat.state is PaidState.PENDING_PAYMENT:
        reply["checkout_url"] = chat.checkout_url
    for name, text in (("answered_by", chat.answered_by), ("closed_reason", chat.closed_reason)):
        if text is not None:
            reply[name] = text
    for name, at in (
        ("checkout_expires_at", chat.checkout_expires_at),
        ("queued_at", chat.queued_at),
        ("sla_due_at", chat.sla_due_at),
        ("window_starts_at", chat.window_starts_at),
        ("window_ends_at", chat.window_ends_at),
        ("closed_at", chat.closed_at),
    ):
        if at is not None:
            reply[name] = at.isoformat()
    return reply


def paid_terms_reply(terms: PaymentTerms) -> dict[str, Any]:
    """The terms a chat started now gets (a started chat keeps its own price)."""
    return {
        "price_cents": terms.price_cents,
        "currency": terms.currency,
        "window_seconds": int(terms.window.total_seconds()),
        "sla_seconds": int(terms.sla.total_seconds()),
    }


def reconciliation_reply(report: DailyReconciliation) -> dict[str, Any]:
    return {
        "day": report.day,
        "captured_cents": report.captured_cents,
        "charged_cents": report.charged_cents,
        "cancelled": report.cancelled,
        "refunded_cents": report.refunded_cents,
        "refunds_pending": report.refunds_pending,
        "disputed": report.disputed,
        "mismatches": [{"thread_id": m.thread_id, "problem": m.problem} for m in report.mismatches],
    }
