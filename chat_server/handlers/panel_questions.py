"""A patient's free question: asking, messages, waiting, withdrawing, rating; the timers.

The patient's client ran the intake triage (red flags never reach the server, which
never sees the intake: it travels inside the encrypted question) and seals the
question to her own devices and the panel's current epoch. Here: one open question
per patient and panel (a duplicate submission, or a retry of the same id, collapses
into the first), at most ``daily_free_questions`` a day (UTC days), the group rules
on every envelope (handlers/panel_envelopes.py), and the question's status: its
place in the queue and an honest wait estimate (model/queue.py: ``wait_estimate``).

One durable job kind, ``panel_timer``, carries every deadline of a question: a
claim's lease (back to the queue at its original place when it runs out unrenewed),
the panel's maximum wait (the patient is told, and may keep waiting or withdraw),
and the end of the follow-up window after the answer (closed).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from chat_server.clock import Clock
from chat_server.errors import (
    AlreadyRated,
    BadRequest,
    DailyQuestionCapReached,
    DuplicateClientMsgId,
    NotFound,
    PatientsOnly,
    QuestionNotHeld,
    ThreadClosed,
    ThreadIdTaken,
    ThreadTransitionNotAllowed,
)
from chat_server.handlers.panel_access import PanelGate, QuestionView
from chat_server.handlers.panel_claims import PANEL_TIMER
from chat_server.handlers.panel_envelopes import CheckedEnvelope, PanelEnvelopes
from chat_server.handlers.panels import THROUGHPUT_WINDOW
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.jobs.runner import JobContext, JobRunner
from chat_server.model.queue import Outcome, QueueItem, wait_estimate
from chat_server.model.threads import PanelEvent, PanelState
from chat_server.principal import Principal, Role
from chat_server.storage.messages import DuplicateMismatch, MessageStore, NewMessage, StoredMessage
from chat_server.storage.panel_queue import PanelRating, QuestionExists, QueueStore, RatingExists
from chat_server.storage.panels import PanelStore
from moderation.limits import Action

QUESTION_ID: Final = re.compile(r"[A-Za-z0-9_-]{22}")
PAGE: Final = 200
RATINGS_PAGE: Final = 50


@dataclass(frozen=True, slots=True)
class QuestionStatus:
    item: QueueItem
    position: int | None  # queued only: 1 is next
    estimate: timedelta | None  # None: no honest estimate (nobody online, no history)
    gps_online: int


@dataclass(frozen=True, slots=True)
class Asked:
    item: QueueItem
    duplicate: bool


class PanelQuestions:
    def __init__(
        self,
        *,
        gate: PanelGate,
        queue: QueueStore,
        panels: PanelStore,
        envelopes: PanelEnvelopes,
        messages: MessageStore,
        jobs: JobRunner,
        clock: Clock,
        throttle: Throttle,
    ) -> None:
        self._gate = gate
        self._queue = queue
        self._panels = panels
        self._envelopes = envelopes
        self._messages = messages
        self._jobs = jobs
        self._clock = clock
        # Called after a GP's answer is stored (paid chats capture and start their
        # window there); bound by the composition root.
        self.on_answer: Callable[[QueueItem], Awaitable[None]] | None = None
        self._throttle = throttle

    async def ask(
        self, who: Principal, panel_id: str, question_id: str, client_msg_id: str, envelope: str
    ) -> Asked:
        if who.role is not Role.PATIENT:
            raise PatientsOnly()
        if QUESTION_ID.fullmatch(question_id) is None:
            raise BadRequest(fields={"question_id": ["22 base64url characters"]})
        panel = await self._gate.panel(panel_id)
        epoch = await self._gate.current_epoch(panel_id)
        if epoch is None:
            raise NotFound()  # a panel nobody sits on takes no questions
        earlier = await self._queue.get(question_id)
        if earlier is not None:
            if earlier.patient_id != who.account_id:
                raise ThreadIdTaken()
            return Asked(earlier, duplicate=True)
        open_one = await self._queue.open_of(who.account_id, panel_id)
        if open_one is not None:
            return Asked(open_one, duplicate=True)
        # A new question (a resend answered above costs nothing): moderation's budget.
        await self._throttle.action(Action.PANEL_QUESTION, subject_of(who))
        now = self._clock.now()
        day = now.date().isoformat()
        if await self._queue.asked_on(who.account_id, panel_id, day) >= (
            panel.settings.daily_free_questions
        ):
            raise DailyQuestionCapReached()
        checked = await self._envelopes.check(
            who,
            question_id=question_id,
            patient_id=who.account_id,
            epoch=epoch,
            client_msg_id=client_msg_id,
            envelope_text=envelope,
        )
        item = QueueItem(question_id, panel_id, who.account_id, PanelState.QUEUED, now)
        try:
            await self._queue.add(item, day=day, now=now)
        except QuestionExists:
            raced = await self._queue.get(question_id)
            if raced is None or raced.patient_id != who.account_id:
                raise ThreadIdTaken() from None
            return Asked(raced, duplicate=True)
        await self._store(who, item, client_msg_id, checked)
        await self._jobs.enqueue(
            PANEL_TIMER,
            {"question": question_id, "due": "wait"},
            run_at=now + timedelta(minutes=panel.settings.max_wait_minutes),
            dedupe_key=f"{question_id}/wait/0",
        )
        await self._gate.announce(panel_id, also=[who.account_id])
        return Asked(item, duplicate=False)

    async def post(
        self,
        who: Principal,
        question_id: str,
        client_msg_id: str,
        envelope: str,
        *,
        answer: bool = False,
    ) -> StoredMessage:
        """A message in the question: the patient's follow-up, or the holding GP's
        reply (``answer``: the answer, which opens the follow-up window)."""
        view = await self._gate.question(who, question_id)
        # A message like any other: one limiter call (device, account, address).
        await self._throttle.action(Action.MESSAGE, subject_of(who))
        now = self._clock.now()
        item = view.item
        if view.epoch is None:
            raise NotFound()
        if view.as_patient:
            if answer:
                raise QuestionNotHeld()
            if not item.open_for_patient(now):
                raise ThreadClosed()
        elif not _gp_may_write(item, who.account_id, now, answer=answer):
            raise QuestionNotHeld()
        checked = await self._envelopes.check(
            who,
            question_id=question_id,
            patient_id=item.patient_id,
            epoch=view.epoch,
            client_msg_id=client_msg_id,
            envelope_text=envelope,
        )
        if answer:
            item = await self._answer(who, view, now)
        stored = await self._store(who, item, client_msg_id, checked)
        if answer and self.on_answer is not None:
            await self.on_answer(item)
        await self._gate.announce(item.panel_id, also=[item.patient_id, who.account_id])
        return stored

    async def messages(self, who: Principal, question_id: str, after: int) -> list[StoredMessage]:
        await self._gate.question(who, question_id)
        return await self._messages.after(question_id, after, PAGE)

    async def withdraw(self, who: Principal, question_id: str) -> QueueItem:
        view = await self._patient(who, question_id)
        moved = await self._queue.move(
            question_id,
            {"state": str(PanelState.QUEUED)},
            {
                "$set": {
                    "state": str(PanelState.CLOSED),
                    "outcome": str(Outcome.WITHDRAWN),
                    "closed_at": self._clock.now(),
                },
                "$unset": {"offered_to": "", "offered_until": ""},
            },
            event=PanelEvent.WITHDRAW,
            actor=who.account_id,
        )
        if moved is None:
            raise ThreadTransitionNotAllowed()
        await self._gate.announce(view.panel.id, also=[who.account_id])
        return moved

    async def keep_waiting(self, who: Principal, question_id: str) -> QueueItem:
        """After the maximum-wait notice: wait another maximum wait."""
        view = await self._patient(who, question_id)
        if view.item.state is not PanelState.QUEUED or not view.item.overdue:
            raise ThreadTransitionNotAllowed()
        waits = await self._queue.bump_waits(question_id)
        if waits < 0:
            raise ThreadTransitionNotAllowed()
        await self._jobs.enqueue(
            PANEL_TIMER,
            {"question": question_id, "due": "wait"},
            run_at=self._clock.now() + timedelta(minutes=view.panel.settings.max_wait_minutes),
            dedupe_key=f"{question_id}/wait/{waits}",
        )
        item = await self._queue.get(question_id)
        assert item is not None
        await self._gate.announce(view.panel.id, also=[who.account_id])
        return item

    async def rate(
        self,
        who: Principal,
        question_id: str,
        score: int,
        comment: tuple[str, str] | None,
    ) -> None:
        """1-5, once, after the answer; ``comment`` is (client message id, envelope),
        sealed like a message of the question: only the panel and the patient read it."""
        view = await self._patient(who, question_id)
        if view.item.outcome is not Outcome.ANSWERED and view.item.state is not PanelState.ANSWERED:
            raise ThreadTransitionNotAllowed()
        sealed = None
        if comment is not None:
            if view.epoch is None:
                raise NotFound()
            checked = await self._envelopes.check(
                who,
                question_id=question_id,
                patient_id=who.account_id,
                epoch=view.epoch,
                client_msg_id=comment[0],
                envelope_text=comment[1],
            )
            sealed = checked.envelope
        try:
            await self._queue.rate(question_id, view.panel.id, score, sealed, self._clock.now())
        except RatingExists:
            raise AlreadyRated() from None
        await self._gate.announce(view.panel.id)

    async def ratings(self, who: Principal, panel_id: str) -> list[PanelRating]:
        """The panel's newest ratings, for its GPs: the comments are sealed to the
        panel's epoch, so only they (and each patient) read them."""
        await self._gate.member(who, panel_id)
        return await self._queue.ratings(panel_id, RATINGS_PAGE)

    async def status(self, who: Principal, question_id: str) -> QuestionStatus:
        view = await self._gate.question(who, question_id)
        return await self.status_of(view.item)

    async def status_of(self, item: QueueItem) -> QuestionStatus:
        now = self._clock.now()
        online = len(await self._panels.online(item.panel_id, now))
        if item.state is not PanelState.QUEUED:
            return QuestionStatus(item, None, None, online)
        position = await self._queue.position(item)
        recent = (await self._queue.stats(item.panel_id, now, THROUGHPUT_WINDOW)).recent
        return QuestionStatus(item, position, wait_estimate(position, recent, online), online)

    async def latest_question(self, patient_id: str, panel_id: str) -> QueueItem | None:
        """The patient's most recent question to the panel (what her screen shows)."""
        return await self._queue.latest_of(patient_id, panel_id)

    async def timer(self, ctx: JobContext) -> datetime | None:
        """The ``panel_timer`` job: a lease, the maximum wait or the follow-up window."""
        payload: dict[str, Any] = dict(ctx.payload)
        item = await self._queue.get(payload["question"])
        if item is None:
            return None
        now = self._clock.now()
        due = payload["due"]
        if due == "lease":
            if item.state is not PanelState.CLAIMED or item.claims != payload["claims"]:
                return None  # answered, released, parked or claimed again since
            assert item.lease_until is not None
            if item.lease_until > now:
                return item.lease_until  # renewed: wait for the new end
            if await self._queue.expire_lease(item.thread_id, item.claims, now) is not None:
                await self._gate.announce(
                    item.panel_id, also=[item.patient_id, item.claimed_by or ""]
                )
        elif due == "wait":
            if item.state is PanelState.QUEUED and not item.overdue:
                await self._queue.set_fields(
                    item.thread_id, {"state": str(PanelState.QUEUED)}, {"overdue": True}
                )
                await self._gate.announce(item.panel_id, also=[item.patient_id])
        elif due == "close" and item.state is PanelState.ANSWERED and item.closes_at is not None:
            if item.closes_at > now:
                return item.closes_at
            await self._queue.move(
                item.thread_id,
                {"state": str(PanelState.ANSWERED)},
                {"$set": {"state": str(PanelState.CLOSED), "closed_at": now}},
                event=PanelEvent.CLOSE,
                actor=None,
            )
            await self._gate.announce(item.panel_id, also=[item.patient_id])
        return None

    async def _answer(self, who: Principal, view: QuestionView, now: datetime) -> QueueItem:
        closes_at = now + timedelta(hours=view.panel.settings.follow_up_hours)
        item = await self._queue.move(
            view.item.thread_id,
            {
                "state": str(PanelState.CLAIMED),
                "claimed_by": who.account_id,
                "lease_until": {"$gt": now},
            },
            {
                "$set": {
                    "state": str(PanelState.ANSWERED),
                    "answered_by": who.account_id,
                    "answered_at": now,
                    "closes_at": closes_at,
                    "outcome": str(Outcome.ANSWERED),
                },
                "$unset": {"claimed_by": "", "lease_until": ""},
            },
            event=PanelEvent.ANSWER,
            actor=who.account_id,
        )
        if item is None:
            raise QuestionNotHeld()
        await self._jobs.enqueue(
            PANEL_TIMER,
            {"question": item.thread_id, "due": "close"},
            run_at=closes_at,
            dedupe_key=f"{item.thread_id}/close",
        )
        return item

    async def _patient(self, who: Principal, question_id: str) -> QuestionView:
        view = await self._gate.question(who, question_id)
        if not view.as_patient:
            raise NotFound()
        return view

    async def _store(
        self, who: Principal, item: QueueItem, client_msg_id: str, checked: CheckedEnvelope
    ) -> StoredMessage:
        try:
            return await self._messages.append(
                NewMessage(
                    thread_id=item.thread_id,
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


def _gp_may_write(item: QueueItem, gp_id: str, now: datetime, *, answer: bool) -> bool:
    if item.state is PanelState.CLAIMED:
        return item.held_by(gp_id, now)
    if answer:
        return False
    if item.state is PanelState.PARKED:
        return item.claimed_by == gp_id
    return (
        item.state is PanelState.ANSWERED
        and item.answered_by == gp_id
        and item.open_for_patient(now)
    )
