"""What a GP does with the queue: claim, renew, release, hand over, park, resume, convert.

Every move is one conditional update in the queue store (storage/panel_queue.py),
taken with the GP's seat in one transaction, so concurrent GPs never both win and
nobody holds more than their capacity. A claim's lease is renewed by the console
while the GP works; its expiry is a durable job (``panel_timer``, see
handlers/panel_questions.py) that puts the question back at its original place.
Only an online GP claims, and only to an online colleague is a question handed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chat_server.clock import Clock
from chat_server.errors import (
    AtCapacity,
    BadRequest,
    ColleagueNotAvailable,
    NothingToClaim,
    NotOnline,
    OfferPriceNotConfigured,
    QuestionNotHeld,
)
from chat_server.handlers.panel_access import PanelGate, QuestionView
from chat_server.jobs.runner import JobRunner
from chat_server.model.queue import Outcome, PaidOffer, QueueItem
from chat_server.model.threads import PanelEvent, PanelState
from chat_server.principal import Principal
from chat_server.storage.panel_queue import NoSeat, NothingQueued, QueueStore
from chat_server.storage.panels import PanelStore

PANEL_TIMER = "panel_timer"


def lease_job(item: QueueItem) -> tuple[dict[str, Any], str]:
    """The payload and dedupe key of the job that ends this claim's lease."""
    return (
        {"question": item.thread_id, "due": "lease", "claims": item.claims},
        f"{item.thread_id}/lease/{item.claims}",
    )


class PanelClaims:
    def __init__(
        self,
        *,
        gate: PanelGate,
        queue: QueueStore,
        panels: PanelStore,
        jobs: JobRunner,
        clock: Clock,
        paid_price: PaidOffer,
    ) -> None:
        # What a paid chat costs the patient (settings payments_*): an offer quotes it,
        # so the card she sees shows what Checkout will ask.
        self.paid_price = paid_price
        self._gate = gate
        self._queue = queue
        self._panels = panels
        self._jobs = jobs
        self._clock = clock

    async def claim(
        self, who: Principal, panel_id: str, question_id: str | None = None
    ) -> QueueItem:
        view = await self._gate.member(who, panel_id)
        now = self._clock.now()
        if not await self._panels.is_online(panel_id, who.account_id, now):
            raise NotOnline()
        settings = view.panel.settings
        try:
            item = await self._queue.claim(
                panel_id,
                who.account_id,
                capacity=settings.capacity_of(who.account_id),
                now=now,
                lease=timedelta(seconds=settings.lease_seconds),
                question_id=question_id,
            )
        except NoSeat:
            raise AtCapacity() from None
        except NothingQueued:
            raise NothingToClaim() from None
        await self._lease_expiry(item)
        await self._gate.announce(panel_id, also=[item.patient_id])
        return item

    async def renew(self, who: Principal, question_id: str) -> datetime:
        view = await self._held(who, question_id)
        now = self._clock.now()
        until = now + timedelta(seconds=view.panel.settings.lease_seconds)
        if not await self._queue.renew(question_id, who.account_id, now, until):
            raise QuestionNotHeld()
        return until

    async def release(self, who: Principal, question_id: str) -> QueueItem:
        return await self._move(
            who,
            question_id,
            PanelEvent.RELEASE,
            {"$set": {"state": str(PanelState.QUEUED)}, "$unset": _NO_CLAIM},
        )

    async def hand_over(self, who: Principal, question_id: str, colleague: str) -> QueueItem:
        view = await self._held(who, question_id)
        now = self._clock.now()
        if (
            colleague == who.account_id
            or colleague not in await self._gate.members(view.panel.id)
            or not await self._panels.is_online(view.panel.id, colleague, now)
        ):
            raise ColleagueNotAvailable()
        offer = now + timedelta(seconds=view.panel.settings.lease_seconds)
        item = await self._move(
            who,
            question_id,
            PanelEvent.HAND_OVER,
            {
                "$set": {
                    "state": str(PanelState.QUEUED),
                    "offered_to": colleague,
                    "offered_until": offer,
                },
                "$unset": _NO_CLAIM,
            },
            states=(PanelState.CLAIMED,),
        )
        return item

    async def park(self, who: Principal, question_id: str) -> QueueItem:
        """Waiting for the patient: off the lease and off the GP's capacity."""
        return await self._move(
            who,
            question_id,
            PanelEvent.PARK,
            {"$set": {"state": str(PanelState.PARKED)}, "$unset": {"lease_until": ""}},
            states=(PanelState.CLAIMED,),
        )

    async def resume(self, who: Principal, question_id: str) -> QueueItem:
        view = await self._held(who, question_id)
        settings = view.panel.settings
        until = self._clock.now() + timedelta(seconds=settings.lease_seconds)
        try:
            item = await self._queue.move(
                question_id,
                {"claimed_by": who.account_id, "state": str(PanelState.PARKED)},
                {
                    "$set": {"state": str(PanelState.CLAIMED), "lease_until": until},
                    "$inc": {"claims": 1},
                },
                event=PanelEvent.RESUME,
                actor=who.account_id,
                seat_capacity=settings.capacity_of(who.account_id),
            )
        except NoSeat:
            raise AtCapacity() from None
        if item is None:
            raise QuestionNotHeld()
        await self._lease_expiry(item)
        await self._gate.announce(view.panel.id, also=[item.patient_id])
        return item

    async def convert(
        self, who: Principal, question_id: str, outcome: Outcome, price_cents: int | None
    ) -> QueueItem:
        """Turn the question into a booking invitation or a paid-chat offer (the
        invitation itself travels encrypted, as a message); the free question ends."""
        fields: dict[str, Any] = {
            "state": str(PanelState.CLOSED),
            "outcome": str(outcome),
            "closed_at": self._clock.now(),
        }
        if outcome is Outcome.PAID_OFFER:
            price = self.paid_price
            if price_cents is not None and price_cents != price.price_cents:
                raise OfferPriceNotConfigured()
            fields["offer"] = {
                "price_cents": price.price_cents,
                "currency": price.currency,
                "panel_id": price.panel_id,
            }
        elif outcome is not Outcome.BOOKING:
            raise BadRequest(fields={"outcome": ["booking or paid_offer"]})
        return await self._move(
            who, question_id, PanelEvent.CONVERT, {"$set": fields, "$unset": _NO_CLAIM}
        )

    async def _held(self, who: Principal, question_id: str) -> QuestionView:
        view = await self._gate.question(who, question_id)
        if view.as_patient:
            raise QuestionNotHeld()
        return view

    async def _move(
        self,
        who: Principal,
        question_id: str,
        event: PanelEvent,
        update: dict[str, Any],
        *,
        states: tuple[PanelState, ...] = (PanelState.CLAIMED, PanelState.PARKED),
    ) -> QueueItem:
        view = await self._held(who, question_id)
        now = self._clock.now()
        held: list[dict[str, Any]] = []
        if PanelState.CLAIMED in states:
            held.append({"state": str(PanelState.CLAIMED), "lease_until": {"$gt": now}})
        if PanelState.PARKED in states:
            held.append({"state": str(PanelState.PARKED)})
        item = await self._queue.move(
            question_id,
            {"claimed_by": who.account_id, "$or": held},
            update,
            event=event,
            actor=who.account_id,
        )
        if item is None:
            raise QuestionNotHeld()
        await self._gate.announce(view.panel.id, also=[item.patient_id])
        return item

    async def _lease_expiry(self, item: QueueItem) -> None:
        assert item.lease_until is not None
        payload, key = lease_job(item)
        await self._jobs.enqueue(PANEL_TIMER, payload, run_at=item.lease_until, dedupe_key=key)


_NO_CLAIM = {"claimed_by": "", "lease_until": ""}
