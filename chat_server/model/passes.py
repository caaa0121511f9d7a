"""A chat pass: what a patient paid for one paid thread, and the window it buys.

The window opens at the first practitioner reply and lasts ``window`` (24 hours by
default, a setting); the patient writes while it is open. A pass nobody answered
within the SLA is refunded (card payments are only ever captured at the first reply).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from chat_server.model.machines import StateMachine


class PassState(StrEnum):
    PENDING = "pending"  # checkout started, not paid
    PAID = "paid"  # paid (or authorised), waiting for a first reply
    ACTIVE = "active"  # the window is open
    EXPIRED = "expired"  # the window has closed
    REFUNDED = "refunded"
    CANCELLED = "cancelled"  # checkout abandoned or expired


class PassEvent(StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    CHECKOUT_EXPIRED = "checkout_expired"
    FIRST_REPLY = "first_reply"
    WINDOW_ENDED = "window_ended"
    SLA_MISSED = "sla_missed"


CHAT_PASS: StateMachine[PassState, PassEvent] = StateMachine(
    "chat pass",
    PassState.PENDING,
    {
        (PassState.PENDING, PassEvent.PAYMENT_SUCCEEDED): PassState.PAID,
        (PassState.PENDING, PassEvent.CHECKOUT_EXPIRED): PassState.CANCELLED,
        (PassState.PAID, PassEvent.FIRST_REPLY): PassState.ACTIVE,
        (PassState.PAID, PassEvent.SLA_MISSED): PassState.REFUNDED,
        (PassState.ACTIVE, PassEvent.WINDOW_ENDED): PassState.EXPIRED,
    },
)


@dataclass(frozen=True, slots=True)
class ChatPass:
    id: str
    patient_id: str
    thread_id: str
    amount_cents: int
    currency: str
    state: PassState
    created_at: datetime
    window: timedelta
    window_starts_at: datetime | None = None

    @property
    def window_ends_at(self) -> datetime | None:
        return None if self.window_starts_at is None else self.window_starts_at + self.window

    def window_open(self, now: datetime) -> bool:
        """Open from the first reply up to, not including, its end."""
        ends = self.window_ends_at
        return (
            self.state is PassState.ACTIVE
            and self.window_starts_at is not None
            and ends is not None
            and self.window_starts_at <= now < ends
        )

    def first_reply(self, at: datetime) -> ChatPass:
        state = CHAT_PASS.transition(self.state, PassEvent.FIRST_REPLY)
        return replace(self, state=state, window_starts_at=at)
