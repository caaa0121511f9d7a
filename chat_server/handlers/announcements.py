"""Prevention mailings, the patient's side: the announcements thread and opting out.

A patient reads what practices sent them (the broadcast body and their own slips;
their client decrypts) and marks a campaign read: the practice sees only how many
read it. A patient opts out of one practice's mailings while logged in, or from the
e-mail's one-click link (RFC 8058), which works without cookies or a session and is
idempotent: the token is the only credential, and it can do nothing but opt out.
"""

from __future__ import annotations

from chat_server.clock import Clock
from chat_server.errors import NotFound, PatientsOnly
from chat_server.handlers.access import AccessGate
from chat_server.principal import Principal, Role
from chat_server.storage.campaigns import Announcement, CampaignStore
from chat_server.storage.mailing_consent import MailingOptOutStore


class Announcements:
    def __init__(
        self,
        *,
        campaigns: CampaignStore,
        opt_outs: MailingOptOutStore,
        gate: AccessGate,
        clock: Clock,
    ) -> None:
        self._campaigns = campaigns
        self._opt_outs = opt_outs
        self._gate = gate
        self._clock = clock

    async def listing(self, who: Principal) -> list[Announcement]:
        _patient(who)
        return await self._campaigns.announcements(who.account_id)

    async def delivered_from(self, patient: str, campaign_id: str) -> str | None:
        """The practice, if this campaign was delivered to the patient (for the live
        push, which re-checks what an event from another process claims)."""
        return await self._campaigns.delivered_from(campaign_id, patient)

    async def read(self, who: Principal, campaign_id: str) -> None:
        """Idempotent; the same NotFound for a campaign never delivered to the caller."""
        _patient(who)
        if not await self._campaigns.mark_read(campaign_id, who.account_id, self._clock.now()):
            raise NotFound()

    async def set_opt_out(self, who: Principal, practice_id: str, opted_out: bool) -> None:
        _patient(who)
        await self._gate.practice_view(who, practice_id)
        if opted_out:
            await self._opt_outs.opt_out(
                practice_id, who.account_id, self._clock.now(), via="settings"
            )
        else:
            await self._opt_outs.opt_in(practice_id, who.account_id)

    async def unsubscribe(self, token: str) -> None:
        """The one-click POST: opts the token's patient out of its practice's mailings."""
        found = await self._opt_outs.by_token(token) if 20 <= len(token) <= 100 else None
        if found is None:
            raise NotFound()
        practice, patient = found
        await self._opt_outs.opt_out(practice, patient, self._clock.now(), via="one_click")


def _patient(who: Principal) -> None:
    if who.role is not Role.PATIENT:
        raise PatientsOnly()
