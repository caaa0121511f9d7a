"""Care links: the relationship that lets a patient open a care thread.

A patient becomes linked to a practitioner or practice in one of two ways: by
following an invitation (``handlers/invitations.py``), or by asking to be linked,
which the provider accepts or declines. Only an active link lets a patient open a
care thread. Either side may end a live link.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chat_server.clock import Clock
from chat_server.errors import (
    CareLinkAlreadyAnswered,
    CareLinkExists,
    CareLinkNotLive,
    Forbidden,
    NotAcceptingRequests,
    NotFound,
)
from chat_server.handlers.access import AccessGate
from chat_server.handlers.audit import Auditor
from chat_server.handlers.throttle import Throttle
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.practices import (
    CareLink,
    CareLinkStore,
    LinkExists,
    LinkStatus,
    PracticeStore,
    ProviderKind,
)
from chat_server.tokens import new_id
from moderation.audit import AuditAction
from moderation.ratelimit import RateLimit

LINK_REQUESTS = RateLimit("link-requests", limit=20, window_seconds=3600)


class CareService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        practices: PracticeStore,
        links: CareLinkStore,
        gate: AccessGate,
        clock: Clock,
        throttle: Throttle,
        auditor: Auditor,
    ) -> None:
        self._accounts = accounts
        self._practices = practices
        self._links = links
        self._gate = gate
        self._clock = clock
        self._throttle = throttle
        self._audit = auditor

    async def request_link(
        self, who: Principal, kind: ProviderKind, provider_id: str, ip: str
    ) -> CareLink:
        if who.role is not Role.PATIENT:
            raise Forbidden("only patients ask to be linked to a provider")
        await self._throttle.check(LINK_REQUESTS, who.account_id)
        await self._require_provider(kind, provider_id)
        return await create_link(
            self._links, who, kind, provider_id, LinkStatus.REQUESTED, "request", self._clock.now()
        )

    async def answer_request(self, who: Principal, link_id: str, accept: bool, ip: str) -> CareLink:
        link = await self._gate.care_link(who, link_id)
        if link.patient_id == who.account_id:
            raise Forbidden("the provider answers a link request")
        target = LinkStatus.ACTIVE if accept else LinkStatus.DECLINED
        updated = await self._links.transition(
            link.id, LinkStatus.REQUESTED, target, self._clock.now()
        )
        if updated is None:
            raise CareLinkAlreadyAnswered("the request was already answered")
        if accept:
            await self._linked(updated, who.account_id, ip)
        return updated

    async def end_link(self, who: Principal, link_id: str, ip: str) -> CareLink:
        link = await self._gate.care_link(who, link_id)
        ended = None
        if link.status in (LinkStatus.ACTIVE, LinkStatus.REQUESTED):
            ended = await self._links.transition(
                link.id, link.status, LinkStatus.ENDED, self._clock.now()
            )
        if ended is None:
            raise CareLinkNotLive("the link is not live")
        await self._audit.record(
            AuditAction.CARE_LINK_ENDED, actor=who.account_id, subject=link.id, ip=ip
        )
        return ended

    async def list_links(self, who: Principal) -> list[dict[str, Any]]:
        if who.role is Role.PATIENT:
            links = await self._links.for_patient(who.account_id)
            return [link.to_public() for link in links]
        links = await self._links.for_providers(await self._gate.provider_ids(who))
        # A provider answers a request by who is asking: the patient's display name, as
        # their threads show it (None once the account is gone).
        patients = await self._accounts.many(sorted({link.patient_id for link in links}))
        return [
            {
                **link.to_public(),
                "patient_name": (
                    patients[link.patient_id].display_name if link.patient_id in patients else None
                ),
            }
            for link in links
        ]

    async def has_active_link(self, patient_id: str, provider_id: str) -> bool:
        link = await self._links.live_between(patient_id, provider_id)
        return link is not None and link.status is LinkStatus.ACTIVE

    # -- internals ----------------------------------------------------------------------

    async def _linked(self, link: CareLink, actor: str, ip: str) -> None:
        await self._audit.record(AuditAction.CARE_LINK_CREATED, actor=actor, subject=link.id, ip=ip)

    async def _require_provider(self, kind: ProviderKind, provider_id: str) -> None:
        if kind is ProviderKind.PRACTICE:
            if await self._practices.get(provider_id) is None:
                raise NotFound()
            return
        account = await self._accounts.get(provider_id)
        if (
            account is None
            or account.role is not Role.PRACTITIONER
            or account.status is not AccountStatus.ACTIVE
        ):
            raise NotFound()
        if not account.accepting_requests:
            raise NotAcceptingRequests("this practitioner is not accepting new requests")


async def create_link(
    links: CareLinkStore,
    who: Principal,
    kind: ProviderKind,
    provider_id: str,
    status: LinkStatus,
    via: str,
    now: datetime,
) -> CareLink:
    """A new link of patient ``who`` to the provider; one live link per pair."""
    try:
        return await links.create(new_id(), who.account_id, kind, provider_id, status, via, now)
    except LinkExists:
        raise CareLinkExists("a link with this provider already exists") from None
