"""Paid chats (``paid_chats``) and the Stripe events received (``stripe_events``).

A paid chat's ``_id`` is its thread id and its Checkout Session id is unique: one
pass per paid session. An event's ``_id`` is Stripe's event id, so a redelivery is
a duplicate key, not a second fulfilment. Events keep only the fact they state and
the ids it names (payments.facts), never Stripe's whole object: a Checkout Session
carries the payer's name and e-mail, which have no business here.

Every state move is one conditional update on the states it may come from (``move``,
which tells ``on_transition``, the audit log, of each); facts are added with
``$addToSet``, so concurrent deliveries of the same fact are one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_server.model.machines import OnTransition, Transition
from chat_server.model.paid_chats import PaidChat
from chat_server.model.threads import PaidState
from payments.facts import Fact, PaymentFact


class PaidChatExists(Exception):
    pass


def _chat(doc: Mapping[str, Any]) -> PaidChat:
    return PaidChat(
        thread_id=doc["_id"],
        patient_id=doc["patient"],
        panel_id=doc["panel"],
        state=PaidState(doc["state"]),
        amount_cents=doc["amount_cents"],
        currency=doc["currency"],
        created_at=doc["created_at"],
        facts=frozenset(Fact(f) for f in doc.get("facts", [])),
        session_id=doc.get("session_id"),
        checkout_url=doc.get("checkout_url"),
        checkout_expires_at=doc.get("checkout_expires_at"),
        payment_intent=doc.get("payment_intent"),
        refund_id=doc.get("refund_id"),
        queued_at=doc.get("queued_at"),
        sla_due_at=doc.get("sla_due_at"),
        answered_by=doc.get("answered_by"),
        window_starts_at=doc.get("window_starts_at"),
        window_ends_at=doc.get("window_ends_at"),
        closed_at=doc.get("closed_at"),
        closed_reason=doc.get("closed_reason"),
    )


# The kind a paid chat's own moves are audited under; its question's moves in the
# queue are audited as "paid" (storage/panel_queue.py).
PAID_CHAT = "paid_chat"


class PaidChatStore:
    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], *, on_transition: OnTransition | None = None
    ) -> None:
        self._on_transition = on_transition
        self._chats = db["paid_chats"]
        self._events = db["stripe_events"]

    async def create(self, chat: PaidChat) -> None:
        try:
            await self._chats.insert_one(
                {
                    "_id": chat.thread_id,
                    "patient": chat.patient_id,
                    "panel": chat.panel_id,
                    "state": str(chat.state),
                    "amount_cents": chat.amount_cents,
                    "currency": chat.currency,
                    "created_at": chat.created_at,
                    "facts": [],
                    # Chosen once: the Checkout Session's parameters (this included)
                    # are the same on every try under the same idempotency key.
                    "checkout_expires_at": chat.checkout_expires_at,
                }
            )
        except DuplicateKeyError:
            raise PaidChatExists() from None

    async def get(self, thread_id: str) -> PaidChat | None:
        doc = await self._chats.find_one({"_id": thread_id})
        return None if doc is None else _chat(doc)

    async def by_intent(self, payment_intent: str) -> PaidChat | None:
        doc = await self._chats.find_one({"payment_intent": payment_intent})
        return None if doc is None else _chat(doc)

    async def set_checkout(
        self, thread_id: str, session_id: str, url: str | None, expires_at: datetime
    ) -> PaidChat | None:
        """The session, once: a retry gets the same session back from Stripe."""
        doc = await self._chats.find_one_and_update(
            {"_id": thread_id, "session_id": {"$in": [None, session_id]}},
            {
                "$set": {
                    "session_id": session_id,
                    "checkout_url": url,
                    "checkout_expires_at": expires_at,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _chat(doc)

    async def add_fact(self, thread_id: str, fact: PaymentFact) -> PaidChat | None:
        fields: dict[str, Any] = {}
        if fact.payment_intent is not None:
            fields["payment_intent"] = fact.payment_intent
        if fact.refund_id is not None:
            fields["refund_id"] = fact.refund_id
        update: dict[str, Any] = {"$addToSet": {"facts": str(fact.fact)}}
        if fields:
            update["$set"] = fields
        doc = await self._chats.find_one_and_update(
            {"_id": thread_id}, update, return_document=ReturnDocument.AFTER
        )
        return None if doc is None else _chat(doc)

    async def move(
        self,
        thread_id: str,
        sources: Sequence[PaidState],
        fields: Mapping[str, Any],
        *,
        event: StrEnum,
        actor: str | None = None,
        without_session: bool = False,
    ) -> PaidChat | None:
        """One conditional move; None if the chat is no longer in ``sources`` (or, with
        ``without_session``, already has its Checkout Session). ``event`` and ``actor``
        (None: a payment fact or time moved it) are what the audit log records of a
        change of state."""
        query: dict[str, Any] = {"_id": thread_id, "state": {"$in": [str(s) for s in sources]}}
        if without_session:
            query["session_id"] = None
        before = await self._chats.find_one_and_update(
            query,
            {"$set": dict(fields)},
        )
        if before is None:
            return None
        after = {**before, **fields}
        if self._on_transition is not None and before["state"] != after["state"]:
            await self._on_transition(
                Transition(PAID_CHAT, thread_id, str(event), before["state"], after["state"], actor)
            )
        return _chat(after)

    async def of_patient(self, patient_id: str, limit: int = 100) -> list[PaidChat]:
        cursor = self._chats.find({"patient": patient_id}, sort=[("created_at", -1)], limit=limit)
        return [_chat(doc) async for doc in cursor]

    async def answered_by(self, gp_id: str, limit: int = 500) -> list[PaidChat]:
        cursor = self._chats.find(
            {"answered_by": gp_id}, sort=[("window_starts_at", -1)], limit=limit
        )
        return [_chat(doc) async for doc in cursor]

    async def touched_between(self, start: datetime, end: datetime) -> list[PaidChat]:
        """Chats created, answered or closed in [start, end): the day's reconciliation."""
        span = {"$gte": start, "$lt": end}
        cursor = self._chats.find(
            {"$or": [{"created_at": span}, {"window_starts_at": span}, {"closed_at": span}]}
        )
        return [_chat(doc) async for doc in cursor]

    # -- events ------------------------------------------------------------------------------

    async def record_event(
        self, event_id: str, kind: str, fact: PaymentFact | None, now: datetime
    ) -> bool:
        """False if this event id was already stored (a redelivery)."""
        doc: dict[str, Any] = {"_id": event_id, "type": kind, "received_at": now}
        if fact is not None:
            doc["fact"] = {
                "fact": str(fact.fact),
                "thread_id": fact.thread_id,
                "session_id": fact.session_id,
                "payment_intent": fact.payment_intent,
                "amount_cents": fact.amount_cents,
                "currency": fact.currency,
                "refund_id": fact.refund_id,
            }
        try:
            await self._events.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def event_fact(self, event_id: str) -> PaymentFact | None:
        doc = await self._events.find_one({"_id": event_id})
        if doc is None or not doc.get("fact"):
            return None
        stored = doc["fact"]
        return PaymentFact(
            Fact(stored["fact"]),
            stored.get("thread_id"),
            session_id=stored.get("session_id"),
            payment_intent=stored.get("payment_intent"),
            amount_cents=stored.get("amount_cents"),
            currency=stored.get("currency"),
            refund_id=stored.get("refund_id"),
        )

    async def mark_applied(self, event_id: str, now: datetime) -> None:
        await self._events.update_one({"_id": event_id}, {"$set": {"applied_at": now}})

    async def events_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        cursor = self._events.find(
            {"received_at": {"$gte": start, "$lt": end}}, sort=[("received_at", ASCENDING)]
        )
        return [doc async for doc in cursor]
