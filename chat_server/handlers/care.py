"""Practices and care relationships.

A patient becomes linked to a practitioner or practice in one of two ways: by
following an invitation (a single-use, expiring code sent by e-mail or SMS), or by
asking to be linked, which the provider accepts or declines. Only an active link lets
a patient open a care thread.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chat_server.clock import Clock
from chat_server.errors import (
    CareLinkAlreadyAnswered,
    CareLinkExists,
    CareLinkNotLive,
    Forbidden,
    InvalidCode,
    NotAcceptingRequests,
    NotFound,
)
from chat_server.handlers.access import AccessGate
from chat_server.handlers.audit import Auditor
from chat_server.handlers.throttle import Throttle
from chat_server.mail import Mailer, SmsSender
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.practices import (
    CareLink,
    CareLinkStore,
    LinkExists,
    LinkStatus,
    Practice,
    PracticeStore,
    ProviderKind,
)
from chat_server.storage.sessions import CodeStore, OneTimeCode
from chat_server.tokens import new_id, new_token, well_formed
from moderation.audit import AuditAction
from moderation.ratelimit import RateLimit

INVITATION_TTL = timedelta(days=7)
INVITATIONS = RateLimit("invitations", limit=100, window_seconds=3600)
LINK_REQUESTS = RateLimit("link-requests", limit=20, window_seconds=3600)


class CareService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        practices: PracticeStore,
        links: CareLinkStore,
        codes: CodeStore,
        gate: AccessGate,
        clock: Clock,
        mailer: Mailer,
        sms: SmsSender,
        throttle: Throttle,
        auditor: Auditor,
        public_url: str,
    ) -> None:
        self._accounts = accounts
        self._practices = practices
        self._links = links
        self._codes = codes
        self._gate = gate
        self._clock = clock
        self._mailer = mailer
        self._sms = sms
        self._throttle = throttle
        self._audit = auditor
        self._public_url = public_url

    # -- practices ----------------------------------------------------------------------

    async def create_practice(self, who: Principal, name: str) -> Practice:
        if who.role is not Role.PRACTICE_ADMIN:
            raise Forbidden("practice admins only")
        practice = await self._practices.create(new_id(), name, who.account_id, self._clock.now())
        await self._audit.record(
            AuditAction.ADMIN_ACTION,
            actor=who.account_id,
            subject=practice.id,
            details={"what": "practice_created"},
        )
        return practice

    async def add_member(
        self, who: Principal, practice_id: str, account_id: str, role: str
    ) -> Practice:
        await self._gate.practice(who, practice_id, admin=True)
        account = await self._accounts.get(account_id)
        wanted = Role.PRACTITIONER if role == "practitioner" else None
        if account is None or (wanted is not None and account.role is not wanted):
            raise NotFound("no such practitioner")
        practice = await self._practices.add_member(practice_id, account_id, role)
        assert practice is not None
        await self._audit.record(
            AuditAction.ADMIN_ACTION,
            actor=who.account_id,
            subject=practice_id,
            details={"what": "member_added", "member": account_id, "role": role},
        )
        return practice

    async def get_practice(self, who: Principal, practice_id: str) -> Practice:
        return await self._gate.practice(who, practice_id)

    # -- invitations --------------------------------------------------------------------

    async def invite(
        self, who: Principal, kind: ProviderKind, provider_id: str, channel: str, to: str, ip: str
    ) -> None:
        await self._require_provider_identity(who, kind, provider_id)
        await self._throttle.check(INVITATIONS, who.account_id)
        code = new_token()
        await self._codes.issue(
            code,
            OneTimeCode(
                "invite",
                provider_id,
                {"kind": str(kind), "invited_by": who.account_id},
                self._clock.now() + INVITATION_TTL,
            ),
        )
        link = f"{self._public_url}/invite#{code}"
        if channel == "sms":
            await self._sms.send_sms(to, f"Your care provider invites you to CareChat: {link}")
        else:
            await self._mailer.send(
                to,
                "Invitation to CareChat, secure messaging with your care provider",
                f"Your care provider invites you to message them securely on CareChat:\n\n"
                f"{link}\n\nThe link can be used once and is valid for 7 days.\n"
                f"{EMERGENCY_NOTICE}",
            )
        await self._audit.record(
            AuditAction.INVITATION_CREATED,
            actor=who.account_id,
            subject=provider_id,
            ip=ip,
            details={"channel": channel},
        )

    async def accept_invitation(self, who: Principal, code: str, ip: str) -> CareLink:
        if who.role is not Role.PATIENT:
            raise Forbidden("invitations are for patients")
        invitation = (
            await self._codes.redeem(code, "invite", self._clock.now())
            if well_formed(code)
            else None
        )
        if invitation is None:
            raise InvalidCode()
        kind = ProviderKind(invitation.data["kind"])
        existing = await self._links.live_between(who.account_id, invitation.subject)
        if existing is not None:
            if existing.status is LinkStatus.ACTIVE:
                return existing
            activated = await self._links.transition(
                existing.id, LinkStatus.REQUESTED, LinkStatus.ACTIVE, self._clock.now()
            )
            if activated is not None:
                await self._linked(activated, who.account_id, ip)
                return activated
        link = await self._create_link(
            who, kind, invitation.subject, LinkStatus.ACTIVE, "invitation"
        )
        await self._linked(link, who.account_id, ip)
        return link

    # -- requests -----------------------------------------------------------------------

    async def request_link(
        self, who: Principal, kind: ProviderKind, provider_id: str, ip: str
    ) -> CareLink:
        if who.role is not Role.PATIENT:
            raise Forbidden("only patients ask to be linked to a provider")
        await self._throttle.check(LINK_REQUESTS, who.account_id)
        await self._require_provider(kind, provider_id)
        return await self._create_link(who, kind, provider_id, LinkStatus.REQUESTED, "request")

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
        else:
            links = await self._links.for_providers(await self._gate.provider_ids(who))
        return [link.to_public() for link in links]

    async def has_active_link(self, patient_id: str, provider_id: str) -> bool:
        link = await self._links.live_between(patient_id, provider_id)
        return link is not None and link.status is LinkStatus.ACTIVE

    # -- internals ----------------------------------------------------------------------

    async def _create_link(
        self, who: Principal, kind: ProviderKind, provider_id: str, status: LinkStatus, via: str
    ) -> CareLink:
        try:
            return await self._links.create(
                new_id(), who.account_id, kind, provider_id, status, via, self._clock.now()
            )
        except LinkExists:
            raise CareLinkExists("a link with this provider already exists") from None

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

    async def _require_provider_identity(
        self, who: Principal, kind: ProviderKind, provider_id: str
    ) -> None:
        """``who`` may invite on behalf of itself or of a practice it works in."""
        if kind is ProviderKind.PRACTITIONER:
            if provider_id != who.account_id or who.role is not Role.PRACTITIONER:
                raise NotFound()
            return
        await self._gate.practice(who, provider_id)
