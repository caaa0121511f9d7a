"""A question waiting in a panel's queue, or held by the GP who claimed it.

A claim is a lease: the GP holds the question until ``lease_until`` and must answer
or renew before then, or it goes back to the queue for the next GP. Storage makes the
claim one atomic update (exactly one GP wins); the rules below say what a stored item
means at a given time, how a panel is set up, and how long a patient should expect
to wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from chat_server.model.threads import PanelState

# Held by a GP: counted against capacity only while CLAIMED (a parked one is not).
HELD_STATES = (PanelState.CLAIMED, PanelState.PARKED)
OPEN_STATES = (PanelState.QUEUED, PanelState.CLAIMED, PanelState.PARKED)


class Outcome(StrEnum):
    """How a closed question ended."""

    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"
    BOOKING = "booking"  # turned into an invitation to book a physical consultation
    PAID_OFFER = "paid_offer"  # turned into an offer of a paid chat


@dataclass(frozen=True, slots=True)
class PaidOffer:
    """A paid chat offered instead of a free answer: the configured paid-chat price
    (what Checkout asks) and the panel paid chats go to (settings payments_panel_id;
    None while paid chats have none), where the patient's widget starts it."""

    price_cents: int
    currency: str = "EUR"
    panel_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueueItem:
    thread_id: str
    panel_id: str
    patient_id: str
    state: PanelState
    queued_at: datetime
    claimed_by: str | None = None
    lease_until: datetime | None = None
    # A colleague the question was handed to: it is first in their list.
    offered_to: str | None = None
    offered_until: datetime | None = None  # then anyone may claim it again
    # Nobody claimed it within the panel's maximum wait; the patient was told.
    overdue: bool = False
    answered_by: str | None = None
    closes_at: datetime | None = None
    outcome: Outcome | None = None
    offer: PaidOffer | None = None
    claims: int = 0  # how many times it was claimed: names each lease's expiry job
    # A paid chat's question (handlers/paid_queue.py): the console marks it before a
    # GP claims it, since answering it captures the patient's payment.
    paid: bool = False

    def __post_init__(self) -> None:
        claimed = self.state is PanelState.CLAIMED
        if claimed != (self.claimed_by is not None and self.lease_until is not None):
            raise ValueError("a claimed item, and only one, has a claimant and a lease")
        if (self.state is PanelState.PARKED) != (
            self.claimed_by is not None and self.lease_until is None
        ):
            raise ValueError("a parked item has a claimant and no lease")

    def lease_expired(self, now: datetime) -> bool:
        """True once the lease has run out: at ``lease_until`` exactly, it has."""
        return self.lease_until is not None and now >= self.lease_until

    def held_by(self, gp_id: str, now: datetime) -> bool:
        return self.claimed_by == gp_id and not self.lease_expired(now)

    def open_for_patient(self, now: datetime) -> bool:
        """The patient may still write: until the follow-up window after the answer ends."""
        if self.state in OPEN_STATES:
            return True
        return (
            self.state is PanelState.ANSWERED
            and self.closes_at is not None
            and now < self.closes_at
        )


@dataclass(frozen=True, slots=True)
class PanelSettings:
    """One panel's rules; defaults come from the server's settings."""

    capacity: int = 3  # open claims per GP
    lease_seconds: int = 300
    max_wait_minutes: int = 30
    follow_up_hours: int = 24
    daily_free_questions: int = 1
    # GP -> their own capacity, overriding ``capacity``.
    capacity_overrides: dict[str, int] = field(default_factory=dict)

    def capacity_of(self, gp_id: str) -> int:
        return self.capacity_overrides.get(gp_id, self.capacity)


@dataclass(frozen=True, slots=True)
class Throughput:
    """What a panel did over a recent window: answers given and by how many GPs."""

    answered: int
    answering_gps: int
    window: timedelta


def wait_estimate(position: int, recent: Throughput, gps_online: int) -> timedelta | None:
    """How long until the question at ``position`` (1: next) is claimed, or None when
    there is no honest answer (nobody online, or no answer in the recent window).

    Each GP online is assumed to answer at the pace the answering GPs kept over the
    window; the question is claimed once the ``position`` questions up to and including
    it have been taken at that pace.
    """
    if position < 1 or gps_online < 1 or recent.answered < 1 or recent.answering_gps < 1:
        return None
    per_gp_per_second = recent.answered / recent.answering_gps / recent.window.total_seconds()
    return timedelta(seconds=position / (per_gp_per_second * gps_online))
