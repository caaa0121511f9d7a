"""A campaign: one prevention mailing or practice news item, sent to a chosen audience.

``draft -> scheduled -> sending -> done``; sending may be paused and resumed, and a
campaign that is not done may be cancelled. Deliveries are idempotent per (campaign,
patient), so a resumed or retried send never mails anyone twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chat_server.model.machines import StateMachine


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class CampaignEvent(StrEnum):
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    FINISH = "finish"
    CANCEL = "cancel"


CAMPAIGN: StateMachine[CampaignState, CampaignEvent] = StateMachine(
    "campaign",
    CampaignState.DRAFT,
    {
        (CampaignState.DRAFT, CampaignEvent.SCHEDULE): CampaignState.SCHEDULED,
        (CampaignState.SCHEDULED, CampaignEvent.UNSCHEDULE): CampaignState.DRAFT,
        (CampaignState.SCHEDULED, CampaignEvent.START): CampaignState.SENDING,
        (CampaignState.SENDING, CampaignEvent.PAUSE): CampaignState.PAUSED,
        (CampaignState.PAUSED, CampaignEvent.RESUME): CampaignState.SENDING,
        (CampaignState.SENDING, CampaignEvent.FINISH): CampaignState.DONE,
        (CampaignState.DRAFT, CampaignEvent.CANCEL): CampaignState.CANCELLED,
        (CampaignState.SCHEDULED, CampaignEvent.CANCEL): CampaignState.CANCELLED,
        (CampaignState.SENDING, CampaignEvent.CANCEL): CampaignState.CANCELLED,
        (CampaignState.PAUSED, CampaignEvent.CANCEL): CampaignState.CANCELLED,
    },
)


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    practice_id: str
    name: str
    state: CampaignState
    # Who receives it, as the practice chose it (e.g. {"min_age": 65}); the mailing job
    # resolves it against the practice's patients when sending starts.
    audience: Mapping[str, str | int]
    created_at: datetime
    send_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        return (
            self.state is CampaignState.SCHEDULED
            and self.send_at is not None
            and (now >= self.send_at)
        )
