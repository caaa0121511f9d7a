"""Prevention mailings, the practice's side: campaigns from draft to done.

The practice's client chooses the audience from roster labels only it can read, seals
one broadcast body (``e2e_crypto.broadcast``) and one slip per recipient device, and
submits the body, then the recipients with their slips. The server checks structure
only: the body names this campaign and the caller, each slip names its patient and
this body. ``schedule`` (at a time, or now) enqueues the fan-out job
(``handlers/mailing_fanout.py``); ``pause``, ``resume`` and ``cancel`` move the state,
which the job reads before each batch. Every schedule or resume starts a new *run*:
its job has its own dedupe key, and a job of an older run stops at once.

Access: any member of the practice (admin, practitioner, staff); everyone else gets
the same ``NotFound`` as for a campaign that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from chat_server.clock import Clock
from chat_server.errors import (
    BadRequest,
    CampaignHasNoRecipients,
    CampaignIdTaken,
    CampaignRecipientsFrozen,
    CampaignTransitionNotAllowed,
    InvalidBroadcast,
    NotFound,
)
from chat_server.handlers.access import AccessGate
from chat_server.jobs.runner import JobRunner
from chat_server.model.campaigns import (
    CAMPAIGN,
    Campaign,
    CampaignEvent,
    CampaignState,
    PauseReason,
    Progress,
)
from chat_server.principal import Principal
from chat_server.storage.campaigns import (
    CampaignExists,
    CampaignNotDraft,
    CampaignStore,
    Recipient,
)
from chat_server.storage.franking_stamp import BroadcastStamper
from e2e_crypto.broadcast_public import parse_broadcast, parse_slip
from e2e_crypto.errors import CryptoError

FANOUT_KIND: Final = "mailing_fanout"
CAMPAIGN_ID: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_RECIPIENTS_PER_CALL: Final = 500
MAX_SLIPS_PER_PATIENT: Final = 20


@dataclass(frozen=True, slots=True)
class CampaignView:
    campaign: Campaign
    progress: Progress


class MailingService:
    def __init__(
        self,
        *,
        campaigns: CampaignStore,
        gate: AccessGate,
        clock: Clock,
        jobs: JobRunner,
        stamp: BroadcastStamper,
    ) -> None:
        self._campaigns = campaigns
        self._gate = gate
        self._clock = clock
        self._jobs = jobs
        self._stamp = stamp

    async def create(
        self,
        who: Principal,
        practice_id: str,
        campaign_id: str,
        body: bytes,
        note: bytes | None = None,
    ) -> Campaign:
        """A draft; ``note`` is the staff's own sealed reminder of it (opaque here)."""
        await self._gate.practice(who, practice_id)
        if CAMPAIGN_ID.fullmatch(campaign_id) is None:
            raise BadRequest(fields={"campaign_id": ["16-64 of A-Z a-z 0-9 _ -"]})
        try:
            parsed = parse_broadcast(body)
        except CryptoError as exc:
            raise InvalidBroadcast(log_detail=type(exc).__name__) from None
        # The ids are inside the signed header: a body sealed for another campaign, or
        # by someone else, cannot be filed under this one.
        if parsed.header.campaign_id != campaign_id:
            raise InvalidBroadcast("the body names another campaign")
        if parsed.header.sender_account != who.account_id:
            raise InvalidBroadcast("the body names another sender")
        now = self._clock.now()
        campaign = Campaign(
            id=campaign_id,
            practice_id=practice_id,
            created_by=who.account_id,
            state=CAMPAIGN.initial,
            created_at=now,
            body=body,
            # The server's receipt of this body: a patient's report of the mailing is
            # checked against it (handlers/reports.py).
            stamp=self._stamp(campaign_id, parsed.header, now),
            note=note,
        )
        try:
            await self._campaigns.create(campaign)
        except CampaignExists:
            raise CampaignIdTaken() from None
        return campaign

    async def add_recipients(
        self, who: Principal, campaign_id: str, recipients: Mapping[str, Sequence[bytes]]
    ) -> int:
        """Adds patients (id -> their slips) to a draft; how many it now has."""
        campaign = await self._access(who, campaign_id)
        if len(recipients) > MAX_RECIPIENTS_PER_CALL:
            raise BadRequest(fields={"recipients": [f"at most {MAX_RECIPIENTS_PER_CALL} a call"]})
        digest = parse_broadcast(campaign.body).digest()
        checked: list[Recipient] = []
        for patient, slips in recipients.items():
            if not 1 <= len(slips) <= MAX_SLIPS_PER_PATIENT:
                raise BadRequest(fields={"slips": [f"1 to {MAX_SLIPS_PER_PATIENT} per patient"]})
            for raw in slips:
                try:
                    slip = parse_slip(raw)
                except CryptoError as exc:
                    raise InvalidBroadcast(log_detail=type(exc).__name__) from None
                if slip.account_id != patient or slip.body_digest != digest:
                    raise InvalidBroadcast("a slip belongs to another patient or body")
            checked.append(Recipient(patient, tuple(slips)))
        try:
            await self._campaigns.add_recipients(campaign.id, checked, self._clock.now())
        except CampaignNotDraft:
            raise CampaignRecipientsFrozen() from None
        return await self._campaigns.recipient_count(campaign.id)

    async def remove_recipients(
        self, who: Principal, campaign_id: str, patients: Sequence[str]
    ) -> int:
        campaign = await self._access(who, campaign_id)
        if campaign.state is not CampaignState.DRAFT:
            raise CampaignRecipientsFrozen()
        await self._campaigns.remove_recipients(campaign.id, patients)
        return await self._campaigns.recipient_count(campaign.id)

    async def schedule(
        self, who: Principal, campaign_id: str, send_at: datetime | None
    ) -> Campaign:
        """Sends at ``send_at`` (None or a past time: now); the recipients freeze."""
        campaign = await self._access(who, campaign_id)
        if await self._campaigns.recipient_count(campaign.id) == 0:
            raise CampaignHasNoRecipients()
        at = max(send_at or self._clock.now(), self._clock.now())
        moved = await self._move(
            campaign, CampaignEvent.SCHEDULE, CampaignState.SCHEDULED, {"send_at": at}
        )
        await self._enqueue(moved, at)
        return moved

    async def unschedule(self, who: Principal, campaign_id: str) -> Campaign:
        """Back to draft; the job already enqueued finds a newer state and stops."""
        campaign = await self._access(who, campaign_id)
        return await self._move(
            campaign, CampaignEvent.UNSCHEDULE, CampaignState.DRAFT, {"send_at": None}
        )

    async def pause(self, who: Principal, campaign_id: str) -> Campaign:
        campaign = await self._access(who, campaign_id)
        return await self._move(
            campaign, CampaignEvent.PAUSE, CampaignState.PAUSED, {"pause_reason": PauseReason.STAFF}
        )

    async def resume(self, who: Principal, campaign_id: str) -> Campaign:
        campaign = await self._access(who, campaign_id)
        moved = await self._move(
            campaign,
            CampaignEvent.RESUME,
            CampaignState.SENDING,
            # A resumed run gets the full allowance of failed batches again.
            {"pause_reason": None, "failed_batches": 0},
        )
        await self._enqueue(moved, self._clock.now())
        return moved

    async def cancel(self, who: Principal, campaign_id: str) -> Campaign:
        campaign = await self._access(who, campaign_id)
        return await self._move(campaign, CampaignEvent.CANCEL, CampaignState.CANCELLED, {})

    async def view(self, who: Principal, campaign_id: str) -> CampaignView:
        campaign = await self._access(who, campaign_id)
        return CampaignView(campaign, await self._campaigns.progress(campaign.id))

    async def listing(self, who: Principal, practice_id: str) -> list[Campaign]:
        await self._gate.practice(who, practice_id)
        return await self._campaigns.for_practice(practice_id)

    async def _access(self, who: Principal, campaign_id: str) -> Campaign:
        """The gate: the same NotFound for a missing campaign and another practice's."""
        campaign = await self._campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound()
        await self._gate.practice(who, campaign.practice_id)
        return campaign

    async def _move(
        self,
        campaign: Campaign,
        event: CampaignEvent,
        target: CampaignState,
        fields: dict[str, object],
    ) -> Campaign:
        if not CAMPAIGN.allows(campaign.state, event):
            raise CampaignTransitionNotAllowed()
        starts_run = target in (CampaignState.SCHEDULED, CampaignState.SENDING)
        moved = await self._campaigns.transition(
            campaign.id,
            event,
            target,
            self._clock.now(),
            fields={k: (str(v) if isinstance(v, PauseReason) else v) for k, v in fields.items()},
            new_run=starts_run,
        )
        if moved is None:  # someone (or the job) moved it first
            raise CampaignTransitionNotAllowed()
        return moved

    async def _enqueue(self, campaign: Campaign, at: datetime) -> None:
        await self._jobs.enqueue(
            FANOUT_KIND,
            {"campaign": campaign.id, "run": campaign.run},
            run_at=at,
            dedupe_key=f"{campaign.id}:{campaign.run}",
        )
