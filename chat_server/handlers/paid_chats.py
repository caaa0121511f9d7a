"""Paid general chats: what the patient and the practitioner do with them.

The patient's client ran the intake (red flags never reach a paid chat) and seals the
question to her devices and the general-practice panel, as for a free question.
``start`` stores the chat ``pending_payment`` with the price copied from the terms
(a later change of price never alters it), stores the sealed question (not yet
queued: handlers/paid_queue.py) and makes a Checkout Session whose idempotency key
derives from the thread, so a retry makes no second session. When Stripe fails
(5xx, timeout) the start still succeeds, without a checkout URL yet, and a durable
job makes the session (payment_flow.py); the patient may cancel while she waits.
The first reply opens the window and asks for the capture; the answering GP may
close early. Everything the money does afterwards is handlers/payment_flow.py.
"""

from __future__ import annotations

import logging

from chat_server.errors import (
    BadRequest,
    NotFound,
    PaidChatNotCancellable,
    PaidChatNotClosable,
    PatientsOnly,
    PaymentProviderUnavailable,
    ThreadIdTaken,
)
from chat_server.handlers.consents import Consents
from chat_server.handlers.paid_queue import PaidQueue
from chat_server.handlers.panel_questions import QUESTION_ID
from chat_server.handlers.payment_flow import PAID_CHAT_TIMER, PaymentConfig, PaymentFlow
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.jobs.runner import JobRunner
from chat_server.model.paid_chats import PaidChat
from chat_server.model.queue import QueueItem
from chat_server.model.threads import PaidEvent, PaidState, PanelEvent
from chat_server.principal import Principal, Role
from chat_server.storage.paid_chats import PaidChatExists, PaidChatStore
from moderation.consents import Purpose
from moderation.limits import Action
from payments.gateway import StripeRefused, StripeUnavailable
from payments.terms import PaymentTerms

log = logging.getLogger(__name__)


class PaidChats:
    def __init__(
        self,
        *,
        chats: PaidChatStore,
        questions: PaidQueue,
        flow: PaymentFlow,
        jobs: JobRunner,
        config: PaymentConfig,
        throttle: Throttle,
        consents: Consents,
    ) -> None:
        self._throttle = throttle
        self._consents = consents
        self._chats = chats
        self._questions = questions
        self._flow = flow
        self._jobs = jobs
        self._clock = config.clock
        self._terms = config.terms
        self._panel_id = config.panel_id

    # -- the patient -------------------------------------------------------------------------

    async def start(
        self, who: Principal, thread_id: str, client_msg_id: str, envelope: str
    ) -> PaidChat:
        if who.role is not Role.PATIENT:
            raise PatientsOnly()
        if QUESTION_ID.fullmatch(thread_id) is None:
            raise BadRequest(fields={"thread_id": ["22 base64url characters"]})
        self._flow.gateway()  # PaymentsNotConfigured when paid chats are off
        # The current paid-chat terms accepted (moderation/consents.py), and the
        # paid-chat-start budget (moderation/limits.py), before Stripe is called.
        await self._consents.require(who.account_id, Purpose.PAID_CHAT_TERMS)
        await self._throttle.action(Action.PAID_CHAT_START, subject_of(who))
        now = self._clock.now()
        chat = PaidChat(
            thread_id=thread_id,
            patient_id=who.account_id,
            panel_id=self._panel_id,
            state=PaidState.PENDING_PAYMENT,
            amount_cents=self._terms.price_cents,
            currency=self._terms.currency,
            created_at=now,
            checkout_expires_at=self._flow.checkout_expiry(now),
        )
        try:
            await self._chats.create(chat)
        except PaidChatExists:
            earlier = await self._chats.get(thread_id)
            if earlier is None or earlier.patient_id != who.account_id:
                raise ThreadIdTaken() from None
            if earlier.session_id is not None or earlier.state is not PaidState.PENDING_PAYMENT:
                return earlier  # a retry after the session was made, or the chat ended
            chat = earlier
        await self._questions.prepare_paid(who, chat.panel_id, thread_id, client_msg_id, envelope)
        try:
            return await self._flow.create_checkout(chat)
        except StripeUnavailable as exc:
            # Stripe down or slow: the start still succeeds, without a checkout URL
            # yet ("preparing payment"); a durable job makes the session with the same
            # key and the status the client polls then carries its URL.
            log.warning("payments: checkout deferred", extra={"fields": {"error": str(exc)}})
            await self._flow.checkout_later(chat)
            return chat
        except StripeRefused as exc:
            # Trying again will not help (a configuration error): the start is refused.
            log.warning("payments: checkout refused", extra={"fields": {"code": exc.code or ""}})
            raise PaymentProviderUnavailable() from None

    async def cancel(self, who: Principal, thread_id: str) -> PaidChat:
        """The patient gives up while the payment is being prepared (no Checkout
        Session yet): the chat closes ``cancelled``, nothing charged. Once the session
        exists the hosted page is where she pays or leaves; it expires unpaid."""
        chat = await self._chats.get(thread_id)
        if chat is None or chat.patient_id != who.account_id:
            raise NotFound()
        moved = await self._chats.move(
            thread_id,
            [PaidState.PENDING_PAYMENT],
            {
                "state": str(PaidState.CLOSED),
                "closed_at": self._clock.now(),
                "closed_reason": "cancelled",
            },
            event=PaidEvent.CANCEL,
            actor=who.account_id,
            without_session=True,
        )
        if moved is None:
            raise PaidChatNotCancellable()
        return moved

    def terms(self, who: Principal) -> PaymentTerms:
        """The terms a chat started now gets, shown before the patient writes; the
        same refusals as a start (patients only; paid chats off)."""
        if who.role is not Role.PATIENT:
            raise PatientsOnly()
        self._flow.gateway()
        return self._terms

    async def status(self, who: Principal, thread_id: str) -> PaidChat:
        """The patient's chat, or the one a GP answered; the same 404 otherwise."""
        chat = await self._chats.get(thread_id)
        if chat is None or who.account_id not in (chat.patient_id, chat.answered_by):
            raise NotFound()
        return chat

    async def payments(self, who: Principal) -> list[PaidChat]:
        if who.role is not Role.PATIENT:
            raise PatientsOnly()
        return await self._chats.of_patient(who.account_id)

    async def receipt(self, who: Principal, thread_id: str) -> PaidChat:
        """The patient's own chat, once it cost her something; the same 404 otherwise
        (a stranger learns nothing, an uncharged chat has nothing to receipt)."""
        chat = await self._chats.get(thread_id)
        if chat is None or chat.patient_id != who.account_id or chat.charged_cents == 0:
            raise NotFound()
        return chat

    async def payouts(self, who: Principal) -> list[PaidChat]:
        """A practitioner's answered paid chats (what they are paid for)."""
        return await self._chats.answered_by(who.account_id)

    async def receive(self, body: bytes, signature: str | None) -> None:
        """Stripe's webhook (payment_flow.py does the work)."""
        await self._flow.receive(body, signature)

    # -- the practitioner --------------------------------------------------------------------

    async def answered(self, item: QueueItem) -> None:
        """The first reply (PanelQuestions.on_answer): the window opens, the hold is
        captured. Called for every answered panel question; most are not paid."""
        chat = await self._chats.get(item.thread_id)
        if chat is None:
            return
        now = self._clock.now()
        ends = now + self._terms.window
        moved = await self._chats.move(
            chat.thread_id,
            [PaidState.QUEUED],
            {
                "state": str(PaidState.ANSWERED),
                "answered_by": item.answered_by,
                "window_starts_at": now,
                "window_ends_at": ends,
            },
            event=PaidEvent.ANSWER,
            actor=item.answered_by,
        )
        if moved is None:
            return
        await self._questions.end_window(chat.thread_id, ends)
        await self._jobs.enqueue(
            PAID_CHAT_TIMER,
            {"thread": chat.thread_id, "due": "window"},
            run_at=ends,
            dedupe_key=f"{chat.thread_id}/window",
        )
        await self._flow.converge(moved)

    async def close(self, who: Principal, thread_id: str) -> PaidChat:
        """The answering GP ends the window early (after posting a closing summary,
        an ordinary sealed message the server cannot read)."""
        chat = await self._chats.get(thread_id)
        if chat is None or who.account_id not in (chat.patient_id, chat.answered_by):
            raise NotFound()
        now = self._clock.now()
        if chat.answered_by != who.account_id or not chat.window_open(now):
            raise PaidChatNotClosable()
        moved = await self._chats.move(
            thread_id,
            [PaidState.ANSWERED],
            {"state": str(PaidState.CLOSED), "closed_at": now, "closed_reason": "closed_early"},
            event=PanelEvent.CLOSE,
            actor=who.account_id,
        )
        if moved is None:
            raise PaidChatNotClosable()
        await self._questions.close_answered(thread_id)
        return moved
