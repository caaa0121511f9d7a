"""A paid chat's question in the general-practice panel's queue.

The question is sealed and checked exactly as a free one (handlers/panel_envelopes.py)
and stored when the chat starts, but it enters the queue only once the payment holds;
from there the panel's own claims, leases and answers apply (handlers/panel_claims.py,
panel_questions.py). What differs is here: no daily free-question cap, the SLA that
takes an unclaimed question out, and the window that closes it to both sides.
"""

from __future__ import annotations

from datetime import datetime

from chat_server.clock import Clock
from chat_server.errors import DuplicateClientMsgId, NotFound
from chat_server.handlers.panel_access import PanelGate
from chat_server.handlers.panel_envelopes import PanelEnvelopes
from chat_server.model.queue import Outcome, QueueItem
from chat_server.model.threads import PaidEvent, PanelState
from chat_server.principal import Principal
from chat_server.storage.messages import DuplicateMismatch, MessageStore, NewMessage
from chat_server.storage.panel_queue import QuestionExists, QueueStore


class PaidQueue:
    def __init__(
        self,
        *,
        gate: PanelGate,
        queue: QueueStore,
        envelopes: PanelEnvelopes,
        messages: MessageStore,
        clock: Clock,
    ) -> None:
        self._gate = gate
        self._queue = queue
        self._envelopes = envelopes
        self._messages = messages
        self._clock = clock

    async def prepare_paid(
        self, who: Principal, panel_id: str, question_id: str, client_msg_id: str, envelope: str
    ) -> None:
        """Checks and stores a paid chat's question before it is paid: it reaches the
        queue only once the payment holds (``enqueue_paid``). A retry is harmless."""
        await self._gate.panel(panel_id)
        epoch = await self._gate.current_epoch(panel_id)
        if epoch is None:
            raise NotFound()
        checked = await self._envelopes.check(
            who,
            question_id=question_id,
            patient_id=who.account_id,
            epoch=epoch,
            client_msg_id=client_msg_id,
            envelope_text=envelope,
        )
        try:
            await self._messages.append(
                NewMessage(
                    thread_id=question_id,
                    sender_account=who.account_id,
                    sender_device=checked.header.sender_device,
                    client_msg_id=client_msg_id,
                    kind="message",
                    envelope=checked.envelope,
                    franking_commitment=checked.header.franking_commitment,
                )
            )
        except DuplicateMismatch:
            raise DuplicateClientMsgId() from None

    async def enqueue_paid(self, question_id: str, panel_id: str, patient_id: str) -> None:
        """Into the queue once paid; idempotent (a converging job may run it twice).
        Paid questions count against no daily cap (their day is not a UTC date)."""
        now = self._clock.now()
        item = QueueItem(question_id, panel_id, patient_id, PanelState.QUEUED, now)
        try:
            await self._queue.add(item, day="paid", now=now)
        except QuestionExists:
            return
        await self._gate.announce(panel_id, also=[patient_id])

    async def item(self, question_id: str) -> QueueItem | None:
        return await self._queue.get(question_id)

    async def close_unclaimed(self, question_id: str) -> QueueItem | None:
        """Takes a paid question nobody holds under a lease out of the queue (its SLA
        ran out); a parked one holds no seat, so it may close too."""
        item = await self._queue.move(
            question_id,
            {"state": {"$in": [str(PanelState.QUEUED), str(PanelState.PARKED)]}},
            {
                "$set": {
                    "state": str(PanelState.CLOSED),
                    "outcome": str(Outcome.WITHDRAWN),
                    "closed_at": self._clock.now(),
                },
                "$unset": {"offered_to": "", "offered_until": ""},
            },
            event=PaidEvent.SLA_MISSED,
            actor=None,
        )
        if item is not None:
            await self._gate.announce(item.panel_id, also=[item.patient_id])
        return item

    async def end_window(self, question_id: str, closes_at: datetime) -> None:
        """A paid answer's window: the question closes to both sides at ``closes_at``."""
        await self._queue.set_fields(
            question_id, {"state": str(PanelState.ANSWERED)}, {"closes_at": closes_at}
        )

    async def close_answered(self, question_id: str) -> QueueItem | None:
        now = self._clock.now()
        moved = await self._queue.move(
            question_id,
            {"state": str(PanelState.ANSWERED)},
            {"$set": {"state": str(PanelState.CLOSED), "closed_at": now, "closes_at": now}},
            event=PaidEvent.WINDOW_ENDED,
            actor=None,
        )
        if moved is not None:
            await self._gate.announce(moved.panel_id, also=[moved.patient_id])
        return moved
