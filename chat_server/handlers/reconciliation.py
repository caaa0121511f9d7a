"""The platform admin's daily reconciliation of paid chats (model/reconciliation.py).

A UTC day: the chats created, answered or closed on it and the Stripe events
received on it. For the events of a chat touched on another day the chat is looked
up by id, so a late webhook is not reported as unknown.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chat_server.errors import Forbidden
from chat_server.model.reconciliation import DailyReconciliation, reconcile
from chat_server.principal import Principal, Role
from chat_server.storage.paid_chats import PaidChatStore


class Reconciliation:
    def __init__(self, chats: PaidChatStore) -> None:
        self._chats = chats

    async def daily(self, who: Principal, day: date) -> DailyReconciliation:
        if who.role is not Role.ADMIN:
            raise Forbidden("platform admins only")
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        chats = {c.thread_id: c for c in await self._chats.touched_between(start, end)}
        events = await self._chats.events_between(start, end)
        for event in events:
            fact = event.get("fact") or {}
            thread = fact.get("thread_id")
            found = None
            if thread and thread not in chats:
                found = await self._chats.get(thread)
            elif not thread and fact.get("payment_intent"):
                found = await self._chats.by_intent(fact["payment_intent"])
            if found is not None:
                chats[found.thread_id] = found
        return reconcile(day.isoformat(), chats.values(), events)
