"""The daily reconciliation of paid chats against what Stripe told us.

Pure: given the chats touched on a day and the events received that day, the money
per outcome and every mismatch an operator must look at. What counts as right is
the same rule the flow converges to (model/paid_chats.py): an answered card chat is
captured; an unanswered one has its hold cancelled or its payment refunded; nothing
is captured without an answer; every event names a chat we know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chat_server.model.paid_chats import PaidChat
from chat_server.model.threads import PaidState
from payments.facts import Fact


@dataclass(frozen=True, slots=True)
class Mismatch:
    thread_id: str | None
    problem: str


@dataclass(slots=True)
class DailyReconciliation:
    day: str
    captured_cents: int = 0
    charged_cents: int = 0  # Bancontact payments kept (answered)
    cancelled: int = 0
    refunded_cents: int = 0
    refunds_pending: int = 0
    disputed: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)


def reconcile(
    day: str, chats: Iterable[PaidChat], events: Iterable[Mapping[str, Any]]
) -> DailyReconciliation:
    report = DailyReconciliation(day)
    known: set[str] = set()
    intents: set[str] = set()
    for chat in chats:
        known.add(chat.thread_id)
        if chat.payment_intent:
            intents.add(chat.payment_intent)
        facts, answered = chat.facts, chat.answered_by is not None
        if Fact.CAPTURED in facts:
            report.captured_cents += chat.amount_cents
            if not answered:
                report.mismatches.append(Mismatch(chat.thread_id, "captured without an answer"))
        elif Fact.PAID in facts and answered:
            report.charged_cents += chat.amount_cents
        if Fact.HOLD_CANCELLED in facts:
            report.cancelled += 1
        if Fact.REFUNDED in facts:
            report.refunded_cents += chat.amount_cents
        elif Fact.REFUND_PENDING in facts:
            report.refunds_pending += 1
        if Fact.REFUND_FAILED in facts:
            report.mismatches.append(Mismatch(chat.thread_id, "refund failed"))
        if Fact.DISPUTED in facts:
            report.disputed.append(chat.thread_id)
        if answered and chat.held and Fact.CAPTURED not in facts:
            report.mismatches.append(Mismatch(chat.thread_id, "answered, hold not captured"))
        if chat.state is PaidState.REFUNDED and chat.held and Fact.HOLD_CANCELLED not in facts:
            report.mismatches.append(Mismatch(chat.thread_id, "unanswered, hold not released"))
        if (
            chat.state is PaidState.REFUNDED
            and Fact.PAID in facts
            and not facts & {Fact.REFUNDED, Fact.REFUND_PENDING}
        ):
            report.mismatches.append(Mismatch(chat.thread_id, "unanswered, not refunded"))
        if chat.state in (PaidState.QUEUED, PaidState.ANSWERED) and not chat.funded:
            report.mismatches.append(Mismatch(chat.thread_id, "served without payment"))
    for event in events:
        fact = event.get("fact") or {}
        thread, intent = fact.get("thread_id"), fact.get("payment_intent")
        if not fact or thread in known or intent in intents:
            continue
        report.mismatches.append(Mismatch(thread, f"event {event['_id']} names no known chat"))
    return report
