"""A question waiting in a panel's queue, or held by the GP who claimed it.

A claim is a lease: the GP holds the question until ``lease_until`` and must answer
or renew before then, or it goes back to the queue for the next GP. Storage makes the
claim one atomic update (exactly one GP wins); the rules below say what a stored item
means at a given time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chat_server.model.threads import PanelState


@dataclass(frozen=True, slots=True)
class QueueItem:
    thread_id: str
    panel_id: str
    patient_id: str
    state: PanelState
    queued_at: datetime
    claimed_by: str | None = None
    lease_until: datetime | None = None

    def __post_init__(self) -> None:
        claimed = self.state is PanelState.CLAIMED
        if claimed != (self.claimed_by is not None and self.lease_until is not None):
            raise ValueError("a claimed item, and only one, has a claimant and a lease")

    def lease_expired(self, now: datetime) -> bool:
        """True once the lease has run out: at ``lease_until`` exactly, it has."""
        return self.lease_until is not None and now >= self.lease_until

    def held_by(self, gp_id: str, now: datetime) -> bool:
        return self.claimed_by == gp_id and not self.lease_expired(now)
