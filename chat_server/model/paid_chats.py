"""A paid chat: a GP-panel question behind a Stripe payment, and what the money did.

The thread's state follows ``PAID_THREAD`` (model/threads.py), coarsely: the panel
queue tracks claims, so here ``queued`` covers queued and claimed. The money is a
set of *facts* (payments.facts.Fact) recorded from webhooks and from our own Stripe
calls; a set does not care in which order, or how many times, a fact arrived, so
every decision below reads the set, never the last event::

    pending_payment ──held or paid──► queued ──first reply──► answered ──window──► closed
         │                              │                        └─GP closes early─► closed
         └─checkout expired/failed─► closed        └─SLA, unclaimed─► refunded
                                                     (hold cancelled, or payment refunded)

The price and currency are copied onto the chat when it is created: changing the
settings never alters an existing pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chat_server.model.threads import PaidState
from payments.facts import Fact

# Money the patient has parted with (a hold counts: it must be released or captured).
FUNDED = frozenset({Fact.HELD, Fact.PAID})


@dataclass(frozen=True, slots=True)
class PaidChat:
    thread_id: str
    patient_id: str
    panel_id: str
    state: PaidState
    amount_cents: int
    currency: str
    created_at: datetime
    facts: frozenset[Fact] = frozenset()
    session_id: str | None = None
    checkout_url: str | None = None
    checkout_expires_at: datetime | None = None
    payment_intent: str | None = None
    refund_id: str | None = None
    queued_at: datetime | None = None
    sla_due_at: datetime | None = None
    answered_by: str | None = None
    window_starts_at: datetime | None = None
    window_ends_at: datetime | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = None

    @property
    def funded(self) -> bool:
        return bool(self.facts & FUNDED)

    @property
    def held(self) -> bool:
        """A card hold (captured at the first reply, released otherwise)."""
        return Fact.HELD in self.facts and Fact.PAID not in self.facts

    @property
    def needs_capture(self) -> bool:
        return (
            self.held
            and self.state in (PaidState.ANSWERED, PaidState.CLOSED)
            and self.answered_by is not None
            and not self.facts & {Fact.CAPTURED, Fact.HOLD_CANCELLED}
        )

    @property
    def needs_release(self) -> bool:
        """Unanswered: a hold is cancelled (card), a payment refunded (Bancontact)."""
        return (
            self.state is PaidState.REFUNDED
            and self.held
            and not self.facts
            & {
                Fact.CAPTURED,
                Fact.HOLD_CANCELLED,
            }
        )

    @property
    def needs_refund(self) -> bool:
        return (
            self.state is PaidState.REFUNDED
            and Fact.PAID in self.facts
            and not self.facts & {Fact.REFUND_PENDING, Fact.REFUNDED}
            and self.refund_id is None
        )

    @property
    def charged_cents(self) -> int:
        """What the patient finally pays: nothing unless a practitioner answered."""
        if self.facts & {Fact.REFUNDED, Fact.HOLD_CANCELLED}:
            return 0
        if Fact.CAPTURED in self.facts or (Fact.PAID in self.facts and self.answered_by):
            return self.amount_cents
        return 0

    def window_open(self, now: datetime) -> bool:
        return (
            self.state is PaidState.ANSWERED
            and self.window_ends_at is not None
            and now < self.window_ends_at
        )
