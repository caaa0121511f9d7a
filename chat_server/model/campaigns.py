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


class PauseReason(StrEnum):
    """Why a campaign stopped sending before it was done."""

    STAFF = "staff"  # someone at the practice paused it
    CONSECUTIVE_FAILURES = "consecutive_failures"  # the job stopped itself: e-mails failed
    # The job stopped itself: its own batches kept failing (MongoDB refusing writes, a
    # bug), attempt after attempt; resume once the cause is fixed.
    JOB_FAILED = "job_failed"


class DeliveryState(StrEnum):
    """What became of one (campaign, patient): exactly one record each."""

    DELIVERED = "delivered"
    # No mailing consent for this practice (never given, or revoked): opt-in, see
    # moderation/consents.py. The wire name predates consents and stays.
    OPTED_OUT = "opted_out"
    NO_CARE_LINK = "no_care_link"  # refused: no active care link to the practice


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    practice_id: str
    created_by: str
    state: CampaignState
    created_at: datetime
    # The campaign's one broadcast body (e2e_crypto.broadcast_public): ciphertext only.
    # Who receives it was computed by the practice's client from labels the server
    # cannot read; the server sees only the list of patients.
    body: bytes
    send_at: datetime | None = None
    pause_reason: PauseReason | None = None
    # Every schedule or resume starts a new run; a job for an older run stops at once.
    run: int = 0
    # The server's franking stamp over the body's commitment, in the broadcast domain
    # (storage/franking_stamp.py): what makes a patient's report of it verifiable.
    # None for campaigns stored before mailings were stamped.
    stamp: bytes | None = None
    # What the practice's console shows of its own campaign (the start of its text),
    # sealed by the client to the staff group: the body's slips are the patients'
    # only, so without it the practice could not tell its campaigns apart. Opaque here.
    note: bytes | None = None

    def due(self, now: datetime) -> bool:
        return (
            self.state is CampaignState.SCHEDULED
            and self.send_at is not None
            and (now >= self.send_at)
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts only: what the practice console shows while and after a campaign sends."""

    recipients: int
    delivered: int
    read: int
    opted_out: int
    no_care_link: int
    mail_sent: int
    mail_failed: int
    mail_retries: int

    def to_public(self) -> Mapping[str, int]:
        return {
            "recipients": self.recipients,
            "delivered": self.delivered,
            "read": self.read,
            "opted_out": self.opted_out,
            "no_care_link": self.no_care_link,
            "failed": self.mail_failed,
            "mail_sent": self.mail_sent,
            "mail_retries": self.mail_retries,
        }
