"""Prevention mailings, the patient's side: the announcements thread and unsubscribing.

A patient reads what practices sent them (the broadcast body and their own slips;
their client decrypts) and marks a campaign read: the practice sees only how many
read it. Receiving a practice's mailings is the patient's consent (purpose
``prevention_mailings``, scoped by the practice), given and revoked like any other
(``/api/v1/consents``); the e-mail's one-click link (RFC 8058) revokes it without
cookies or a session and is idempotent: the token is the only credential, and it can
do nothing but revoke that one consent.
"""

from __future__ import annotations

from chat_server.clock import Clock
from chat_server.errors import NotFound, PatientsOnly
from chat_server.handlers.consents import Consents
from chat_server.principal import Principal, Role
from chat_server.storage.campaigns import Announcement, CampaignStore
from chat_server.storage.mailing_consent import UnsubscribeTokenStore


class Announcements:
    def __init__(
        self,
        *,
        campaigns: CampaignStore,
        tokens: UnsubscribeTokenStore,
        consents: Consents,
        clock: Clock,
    ) -> None:
        self._campaigns = campaigns
        self._tokens = tokens
        self._consents = consents
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

    async def unsubscribe(self, token: str) -> None:
        """The one-click POST: revokes the token's patient's consent to its practice's
        prevention mailings (recorded with its time, like any revocation)."""
        found = await self._tokens.by_token(token) if 20 <= len(token) <= 100 else None
        if found is None:
            raise NotFound()
        practice, patient = found
        await self._consents.stop_mailings(patient, practice)


def _patient(who: Principal) -> None:
    if who.role is not Role.PATIENT:
        raise PatientsOnly()
