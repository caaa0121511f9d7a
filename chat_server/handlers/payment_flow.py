"""The money following the service: Stripe's webhook, convergence, outbound calls, timers.

- ``receive``: a webhook's raw body and Stripe-Signature are verified (several
  secrets during a rotation); the event is stored by id (a redelivery is a
  duplicate key) and a durable ``stripe_event`` job does the work from the stored
  fact; the answer is immediate.
- ``converge``: the one place that decides, from the chat's state and its *set* of
  facts, what must happen next (queue it, close it, capture, cancel, refund). Every
  job ends by calling it, so any order of events, a redelivery, or a crash between
  a Stripe call and its record ends in the same place.
- ``stripe_checkout`` jobs make the Checkout Session when Stripe failed during the
  start (5xx, timeout): the same parameters and idempotency key as the start's own
  try, so Stripe holds one session for the chat however many tries it took; the
  status the client polls then carries its URL. Stripe refusing (4xx), the last
  attempt failing, or the stored expiry too near closes the chat ``checkout_failed``
  (nothing charged). A patient who gave up while waiting (``cancelled``) gets a
  session made meanwhile expired.
- ``stripe_call`` jobs make the outbound calls with deterministic idempotency keys
  (payments/keys.py) and record what Stripe answered as facts; a 5xx or a timeout
  raises, and the job runs again with the same key, so Stripe acts once.
- ``paid_chat_timer`` jobs: the SLA (unclaimed: nothing is charged, the hold is
  cancelled or the payment refunded and followed to its end, the thread closes)
  and the end of the window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from chat_server.clock import Clock
from chat_server.errors import PaymentsNotConfigured, WebhookSignatureInvalid
from chat_server.handlers.paid_queue import PaidQueue
from chat_server.jobs.runner import JobContext, JobRunner
from chat_server.model.paid_chats import PaidChat
from chat_server.model.threads import PaidEvent, PaidState, PanelState
from chat_server.storage.paid_chats import PaidChatStore
from payments.facts import Fact, PaymentFact, fact_of
from payments.gateway import StripeGateway, StripeRefused, StripeUnavailable
from payments.signatures import InvalidSignature, verify_signature
from payments.terms import CHECKOUT_EXPIRY_MAX, CHECKOUT_EXPIRY_MIN, PaymentTerms

log = logging.getLogger(__name__)

STRIPE_EVENT: Final = "stripe_event"
STRIPE_CALL: Final = "stripe_call"
STRIPE_CHECKOUT: Final = "stripe_checkout"
PAID_CHAT_TIMER: Final = "paid_chat_timer"
# The checkout job: 8 tries, 5 s doubling (about 11 minutes in all; app.py).
CHECKOUT_ATTEMPTS: Final = 8
CHECKOUT_BACKOFF: Final = timedelta(seconds=5)
# A session's expires_at is chosen once, at the start, for every try under its key
# (Stripe compares a retry's parameters); Stripe wants it 30 minutes to 24 hours
# after the session is made, so it gets this margin for the tries of the job.
CHECKOUT_MARGIN: Final = timedelta(minutes=15)
# A pending (Bancontact) refund is looked at again this often until it is final.
REFUND_FOLLOW: Final = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PaymentConfig:
    clock: Clock
    terms: PaymentTerms
    panel_id: str  # the general-practice panel whose GPs answer paid chats
    webhook_secrets: tuple[str, ...]
    return_url: str  # where Checkout sends the patient back


class PaymentFlow:
    def __init__(
        self,
        *,
        chats: PaidChatStore,
        questions: PaidQueue,
        gateway: StripeGateway | None,
        jobs: JobRunner,
        config: PaymentConfig,
    ) -> None:
        self._chats = chats
        self._questions = questions
        self._gateway = gateway
        self._jobs = jobs
        self._clock = config.clock
        self._terms = config.terms
        self._panel_id = config.panel_id
        self._secrets = config.webhook_secrets
        self._return_url = config.return_url

    # -- the Checkout Session ----------------------------------------------------------------

    def checkout_expiry(self, now: datetime) -> datetime:
        """The expires_at of a chat started now: the setting, plus the margin the
        checkout job may need, within Stripe's 24 hours."""
        return now + min(self._terms.checkout_expiry + CHECKOUT_MARGIN, CHECKOUT_EXPIRY_MAX)

    async def create_checkout(self, chat: PaidChat) -> PaidChat:
        """Makes (or, under the same key, gets back) the chat's Checkout Session and
        records it. Raises StripeUnavailable (try again later) or StripeRefused."""
        # Stored when the chat was created (chats from before that: chosen now).
        expires_at = chat.checkout_expires_at or self.checkout_expiry(self._clock.now())
        # The price travels from the stored chat, not the settings of the moment.
        terms = replace(self._terms, price_cents=chat.amount_cents, currency=chat.currency)
        back = f"{self._return_url}?paid_chat={chat.thread_id}&checkout="
        session = await self.gateway().create_checkout(
            chat.thread_id,
            terms,
            success_url=f"{back}success",
            cancel_url=f"{back}cancel",
            expires_at=expires_at,
        )
        stored = await self._chats.set_checkout(chat.thread_id, session.id, session.url, expires_at)
        assert stored is not None  # one session per key: the same id every time
        return stored

    async def checkout_later(self, chat: PaidChat) -> None:
        """Stripe failed during the start: a durable job makes the session."""
        await self._jobs.enqueue(
            STRIPE_CHECKOUT, {"thread": chat.thread_id}, dedupe_key=f"{chat.thread_id}/checkout"
        )

    async def make_checkout(self, ctx: JobContext) -> datetime | None:
        """The ``stripe_checkout`` job; a StripeUnavailable raised here is retried with
        back-off by the runner, except on the last attempt, which gives up."""
        chat = await self._chats.get(str(ctx.payload["thread"]))
        if chat is None:
            return None
        if chat.session_id is None:
            if chat.state is not PaidState.PENDING_PAYMENT:
                return None  # cancelled before any session was made
            expires_at = chat.checkout_expires_at
            if expires_at is not None and self._clock.now() + CHECKOUT_EXPIRY_MIN > expires_at:
                # Too late: Stripe refuses a session expiring in under 30 minutes.
                await self._give_up(chat, "expiry")
                return None
            try:
                chat = await self.create_checkout(chat)
            except StripeUnavailable as exc:
                if ctx.job.attempts < ctx.job.max_attempts:
                    raise
                await self._give_up(chat, str(exc))
                return None
            except StripeRefused as exc:
                await self._give_up(chat, exc.code or "refused")
                return None
        if chat.closed_reason == "cancelled" and chat.session_id is not None:
            # The patient gave up while Stripe was being retried, and the session got
            # made just then: nobody may pay it now.
            try:
                await self.gateway().expire_checkout(chat.thread_id, chat.session_id)
            except StripeRefused:
                pass  # already expired or completed: the webhooks tell which
        return None

    async def _give_up(self, chat: PaidChat, reason: str) -> None:
        log.warning("payments: checkout abandoned", extra={"fields": {"reason": reason}})
        await self._chats.move(
            chat.thread_id,
            [PaidState.PENDING_PAYMENT],
            {
                "state": str(PaidState.CLOSED),
                "closed_at": self._clock.now(),
                "closed_reason": "checkout_failed",
            },
            event=PaidEvent.CHECKOUT_FAILED,
            without_session=True,
        )

    # -- Stripe's webhook --------------------------------------------------------------------

    async def receive(self, body: bytes, signature: str | None) -> None:
        """Verify, store by id, hand to a durable job; fast, and nothing else."""
        if not self._secrets:
            # Nothing verifies without a secret: the same refusal as a forgery.
            log.warning("payments: webhook refused", extra={"fields": {"reason": "no secret"}})
            raise WebhookSignatureInvalid()
        try:
            event = verify_signature(
                body, signature or "", self._secrets, now=self._clock.now().timestamp()
            )
        except InvalidSignature as exc:
            log.warning("payments: webhook refused", extra={"fields": {"reason": exc.reason}})
            raise WebhookSignatureInvalid() from None
        fact = fact_of(event)
        event_id = str(event["id"])
        await self._chats.record_event(event_id, str(event["type"]), fact, self._clock.now())
        if fact is not None:
            # Also on a redelivery: the dedupe key makes it one job, and an event
            # stored by a process that died before this line still gets its job.
            await self._jobs.enqueue(STRIPE_EVENT, {"event": event_id}, dedupe_key=event_id)

    async def apply_event(self, ctx: JobContext) -> datetime | None:
        """The ``stripe_event`` job: record the stored fact on its chat, then converge."""
        event_id = str(ctx.payload["event"])
        fact = await self._chats.event_fact(event_id)
        if fact is None:
            return None
        chat = await self._chat_of(fact)
        if chat is None:
            return None  # not ours (another integration on the same account)
        if fact.fact is Fact.PAID and fact.amount_cents not in (None, chat.amount_cents):
            log.warning("payments: amount mismatch", extra={"fields": {"event": event_id}})
        updated = await self._chats.add_fact(chat.thread_id, fact)
        if updated is not None:
            await self.converge(updated)
        await self._chats.mark_applied(event_id, self._clock.now())
        return None

    async def _chat_of(self, fact: PaymentFact) -> PaidChat | None:
        if fact.thread_id is not None:
            found = await self._chats.get(fact.thread_id)
            if found is not None:
                return found
        if fact.payment_intent is not None:
            return await self._chats.by_intent(fact.payment_intent)
        return None

    # -- deciding --------------------------------------------------------------------------

    async def converge(self, chat: PaidChat) -> None:
        """From the state and the facts, whatever must happen next; safe to repeat."""
        now = self._clock.now()
        if chat.state is PaidState.PENDING_PAYMENT:
            if chat.funded:
                sla_due = now + self._terms.sla
                moved = await self._chats.move(
                    chat.thread_id,
                    [PaidState.PENDING_PAYMENT],
                    {"state": str(PaidState.QUEUED), "queued_at": now, "sla_due_at": sla_due},
                    event=PaidEvent.PAID,
                )
                if moved is not None:
                    chat = moved
            elif chat.facts & {Fact.EXPIRED, Fact.FAILED}:
                await self._chats.move(
                    chat.thread_id,
                    [PaidState.PENDING_PAYMENT],
                    {"state": str(PaidState.CLOSED), "closed_at": now, "closed_reason": "unpaid"},
                    event=PaidEvent.CHECKOUT_EXPIRED,
                )
                return
        if chat.state is PaidState.QUEUED and chat.sla_due_at is not None:
            # Again on every pass: a crash after the move above still queues it.
            await self._questions.enqueue_paid(chat.thread_id, chat.panel_id, chat.patient_id)
            await self._jobs.enqueue(
                PAID_CHAT_TIMER,
                {"thread": chat.thread_id, "due": "sla"},
                run_at=chat.sla_due_at,
                dedupe_key=f"{chat.thread_id}/sla",
            )
        if chat.needs_capture:
            await self._call(chat, "capture")
        if chat.needs_release:
            await self._call(chat, "cancel")
        if chat.needs_refund:
            await self._call(chat, "refund")
        if Fact.REFUND_PENDING in chat.facts and not chat.facts & {
            Fact.REFUNDED,
            Fact.REFUND_FAILED,
        }:
            await self._call(chat, "follow_refund")

    async def _call(self, chat: PaidChat, action: str) -> None:
        await self._jobs.enqueue(
            STRIPE_CALL,
            {"thread": chat.thread_id, "action": action},
            dedupe_key=f"{chat.thread_id}/{action}",
        )

    async def call_stripe(self, ctx: JobContext) -> datetime | None:
        """The ``stripe_call`` job: one outbound call, its answer recorded as a fact.
        A 5xx or a timeout raises and the job runs again later, with the same key."""
        gateway = self.gateway()
        chat = await self._chats.get(str(ctx.payload["thread"]))
        if chat is None or chat.payment_intent is None:
            return None
        action = str(ctx.payload["action"])
        intent = chat.payment_intent
        try:
            if action == "capture" and chat.needs_capture:
                status = await gateway.capture(chat.thread_id, intent)
                fact = Fact.CAPTURED if status == "succeeded" else None
                if fact is not None:
                    await self._record(chat, PaymentFact(fact, chat.thread_id))
            elif action == "cancel" and chat.needs_release:
                await gateway.cancel(chat.thread_id, intent)
                await self._record(chat, PaymentFact(Fact.HOLD_CANCELLED, chat.thread_id))
            elif action == "refund" and chat.needs_refund:
                refund = await gateway.refund(chat.thread_id, intent)
                done = Fact.REFUNDED if refund.status == "succeeded" else Fact.REFUND_PENDING
                await self._record(chat, PaymentFact(done, chat.thread_id, refund_id=refund.id))
            elif action == "follow_refund" and chat.refund_id is not None:
                if chat.facts & {Fact.REFUNDED, Fact.REFUND_FAILED}:
                    return None
                refund = await gateway.retrieve_refund(chat.refund_id)
                if refund.status == "succeeded":
                    await self._record(chat, PaymentFact(Fact.REFUNDED, chat.thread_id))
                elif refund.status in ("failed", "canceled"):
                    await self._record(chat, PaymentFact(Fact.REFUND_FAILED, chat.thread_id))
                else:
                    return self._clock.now() + REFUND_FOLLOW
        except StripeRefused as exc:
            # Not retryable (e.g. a hold that lapsed); left for the reconciliation.
            log.warning(
                "payments: stripe refused",
                extra={"fields": {"action": action, "code": exc.code or ""}},
            )
        return None

    async def _record(self, chat: PaidChat, fact: PaymentFact) -> None:
        updated = await self._chats.add_fact(chat.thread_id, fact)
        if updated is not None:
            await self.converge(updated)

    async def timer(self, ctx: JobContext) -> datetime | None:
        """The ``paid_chat_timer`` job: the SLA, or the end of the window."""
        chat = await self._chats.get(str(ctx.payload["thread"]))
        if chat is None:
            return None
        now = self._clock.now()
        if ctx.payload["due"] == "sla" and chat.state is PaidState.QUEUED:
            if chat.sla_due_at is not None and chat.sla_due_at > now:
                return chat.sla_due_at
            item = await self._questions.item(chat.thread_id)
            if item is not None and item.state is PanelState.CLAIMED and item.lease_until:
                # A GP holds it right now: their lease decides (an answer, or back to
                # the queue and closed at the next look).
                return max(item.lease_until, now)
            if item is not None and item.state in (PanelState.ANSWERED, PanelState.CLOSED):
                return None  # answered: the answer hook moved the chat
            await self._questions.close_unclaimed(chat.thread_id)
            moved = await self._chats.move(
                chat.thread_id,
                [PaidState.QUEUED],
                {"state": str(PaidState.REFUNDED), "closed_at": now, "closed_reason": "unanswered"},
                event=PaidEvent.SLA_MISSED,
            )
            if moved is not None:
                await self.converge(moved)
        elif ctx.payload["due"] == "window" and chat.state is PaidState.ANSWERED:
            if chat.window_ends_at is not None and chat.window_ends_at > now:
                return chat.window_ends_at
            await self._chats.move(
                chat.thread_id,
                [PaidState.ANSWERED],
                {"state": str(PaidState.CLOSED), "closed_at": now, "closed_reason": "window_ended"},
                event=PaidEvent.WINDOW_ENDED,
            )
        return None

    def gateway(self) -> StripeGateway:
        """The Stripe client, or PaymentsNotConfigured when paid chats are off."""
        if self._gateway is None or not self._panel_id:
            raise PaymentsNotConfigured()
        return self._gateway
