"""Threads: one model, four kinds, each with its own state machine.

- ``care``: a patient and a practitioner or practice they have a care link with.
  ``requested -> open | declined``; a live thread (requested or open) may be blocked
  or closed. The only kind stored today.
- ``panel``: a free question to a group of GPs. ``queued -> claimed -> answered ->
  closed``; a claim holds a lease, and a lease that runs out (or a GP who lets go or
  hands it to a colleague) puts the question back in the queue at its original place;
  a GP may park a claimed question while waiting for the patient, or convert it into a
  booking invitation or a paid-chat offer (closed). Stored as panel questions
  (storage/panel_queue.py), not in ``threads``.
- ``paid``: a panel question behind a payment. ``pending_payment -> queued``, then as
  a panel; the 24-hour window starts at the first reply (``answered``) and its end
  closes the thread; unanswered within the SLA, it is refunded (and stays so).
- ``announcement``: a practice's mailings to one patient, read-only for the patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from chat_server.model.machines import StateMachine


class ThreadKind(StrEnum):
    CARE = "care"
    PANEL = "panel"
    PAID = "paid"
    ANNOUNCEMENT = "announcement"


class ThreadState(StrEnum):
    """A care thread's states (``Thread.state``: care is the only stored kind yet)."""

    REQUESTED = "requested"
    OPEN = "open"
    DECLINED = "declined"
    BLOCKED = "blocked"
    CLOSED = "closed"


class CareEvent(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    BLOCK = "block"
    CLOSE = "close"


CARE_THREAD: StateMachine[ThreadState, CareEvent] = StateMachine(
    "care thread",
    ThreadState.REQUESTED,
    {
        (ThreadState.REQUESTED, CareEvent.ACCEPT): ThreadState.OPEN,
        (ThreadState.REQUESTED, CareEvent.DECLINE): ThreadState.DECLINED,
        (ThreadState.REQUESTED, CareEvent.BLOCK): ThreadState.BLOCKED,
        (ThreadState.OPEN, CareEvent.BLOCK): ThreadState.BLOCKED,
        (ThreadState.REQUESTED, CareEvent.CLOSE): ThreadState.CLOSED,
        (ThreadState.OPEN, CareEvent.CLOSE): ThreadState.CLOSED,
    },
)

# A care thread that still takes messages; a patient has at most one per provider.
LIVE_CARE_STATES = (ThreadState.REQUESTED, ThreadState.OPEN)


class PanelState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    # Held by its GP, waiting for the patient: off the lease, off the GP's capacity.
    PARKED = "parked"
    ANSWERED = "answered"
    CLOSED = "closed"


class PanelEvent(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    LEASE_EXPIRED = "lease_expired"
    HAND_OVER = "hand_over"  # back to the queue, offered first to a named colleague
    PARK = "park"
    RESUME = "resume"
    ANSWER = "answer"
    CONVERT = "convert"  # turned into a booking invitation or a paid-chat offer
    WITHDRAW = "withdraw"
    CLOSE = "close"


PANEL_THREAD: StateMachine[PanelState, PanelEvent] = StateMachine(
    "panel thread",
    PanelState.QUEUED,
    {
        (PanelState.QUEUED, PanelEvent.CLAIM): PanelState.CLAIMED,
        (PanelState.QUEUED, PanelEvent.WITHDRAW): PanelState.CLOSED,
        (PanelState.CLAIMED, PanelEvent.RELEASE): PanelState.QUEUED,
        (PanelState.CLAIMED, PanelEvent.LEASE_EXPIRED): PanelState.QUEUED,
        (PanelState.CLAIMED, PanelEvent.HAND_OVER): PanelState.QUEUED,
        (PanelState.CLAIMED, PanelEvent.PARK): PanelState.PARKED,
        (PanelState.PARKED, PanelEvent.RESUME): PanelState.CLAIMED,
        (PanelState.PARKED, PanelEvent.RELEASE): PanelState.QUEUED,
        (PanelState.CLAIMED, PanelEvent.ANSWER): PanelState.ANSWERED,
        (PanelState.CLAIMED, PanelEvent.CONVERT): PanelState.CLOSED,
        (PanelState.PARKED, PanelEvent.CONVERT): PanelState.CLOSED,
        (PanelState.ANSWERED, PanelEvent.CLOSE): PanelState.CLOSED,
    },
)


class PaidState(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    QUEUED = "queued"
    CLAIMED = "claimed"
    ANSWERED = "answered"
    CLOSED = "closed"
    REFUNDED = "refunded"


class PaidEvent(StrEnum):
    PAID = "paid"
    CHECKOUT_EXPIRED = "checkout_expired"
    # The Checkout Session could not be made (the durable job gave up): nothing charged.
    CHECKOUT_FAILED = "checkout_failed"
    CANCEL = "cancel"  # the patient gave up while the payment was being prepared
    CLAIM = "claim"
    RELEASE = "release"
    LEASE_EXPIRED = "lease_expired"
    ANSWER = "answer"  # the first practitioner reply: the window starts
    WINDOW_ENDED = "window_ended"
    SLA_MISSED = "sla_missed"


PAID_THREAD: StateMachine[PaidState, PaidEvent] = StateMachine(
    "paid thread",
    PaidState.PENDING_PAYMENT,
    {
        (PaidState.PENDING_PAYMENT, PaidEvent.PAID): PaidState.QUEUED,
        (PaidState.PENDING_PAYMENT, PaidEvent.CHECKOUT_EXPIRED): PaidState.CLOSED,
        (PaidState.PENDING_PAYMENT, PaidEvent.CHECKOUT_FAILED): PaidState.CLOSED,
        (PaidState.PENDING_PAYMENT, PaidEvent.CANCEL): PaidState.CLOSED,
        (PaidState.QUEUED, PaidEvent.CLAIM): PaidState.CLAIMED,
        (PaidState.QUEUED, PaidEvent.SLA_MISSED): PaidState.REFUNDED,
        (PaidState.CLAIMED, PaidEvent.RELEASE): PaidState.QUEUED,
        (PaidState.CLAIMED, PaidEvent.LEASE_EXPIRED): PaidState.QUEUED,
        (PaidState.CLAIMED, PaidEvent.ANSWER): PaidState.ANSWERED,
        (PaidState.CLAIMED, PaidEvent.SLA_MISSED): PaidState.REFUNDED,
        (PaidState.ANSWERED, PaidEvent.WINDOW_ENDED): PaidState.CLOSED,
    },
)


class AnnouncementState(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class AnnouncementEvent(StrEnum):
    CLOSE = "close"  # the practice ends it or the patient unsubscribes


ANNOUNCEMENT_THREAD: StateMachine[AnnouncementState, AnnouncementEvent] = StateMachine(
    "announcement thread",
    AnnouncementState.ACTIVE,
    {(AnnouncementState.ACTIVE, AnnouncementEvent.CLOSE): AnnouncementState.CLOSED},
)

# Kinds whose patient only reads: the practice writes, the patient's sends are refused.
READ_ONLY_FOR_PATIENT = frozenset({ThreadKind.ANNOUNCEMENT})


class MessageKind(StrEnum):
    """The coarse public kind the server may route on; the real type is encrypted."""

    MESSAGE = "message"
    SYSTEM = "system"
    REPORT_TO_GP = "report_to_gp"  # sent only with the patient's consent (intake)


@dataclass(frozen=True, slots=True)
class Thread:
    id: str
    kind: ThreadKind
    state: ThreadState
    patient_id: str
    provider_kind: str
    provider_id: str
    participants: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    last_seq: int
    last_message_at: datetime | None
    # participant -> patient | practitioner | staff: who each recipient is, for the
    # patient to see (the ghost-participant rule, THREAT_MODEL.md).
    roles: Mapping[str, str] = field(default_factory=dict)
    # The patient's signed thread opening (e2e_crypto.thread_opening_public), kept
    # opaque: clients check who the thread is between against it. None for threads
    # opened before openings existed, or by a client that does not sign one.
    opening: bytes | None = None

    def role_of(self, account_id: str) -> str:
        return self.roles.get(account_id, "member")
