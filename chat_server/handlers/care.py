"""Practices and care relationships.

A patient becomes linked to a practitioner or practice in one of two ways: by
following an invitation (a single-use, expiring code sent by e-mail or SMS), or by
asking to be linked, which the provider accepts or declines. Only an active link lets
a patient open a care thread.

An invitation is bound to where it was sent: an e-mail one is accepted only by the
account with that (verified) address; an SMS one only by an account whose user types
a second code texted to the invited number, so a forwarded or leaked link is useless.
One action never accepts another: accepting an invitation leaves a pending link
request alone (the provider answers it, or the patient withdraws it).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from chat_server.clock import Clock
from chat_server.errors import (
    CareLinkAlreadyAnswered,
    CareLinkExists,
    CareLinkNotLive,
    Forbidden,
    InvalidCode,
    LinkRequestPending,
    NotAcceptingRequests,
    NotFound,
    PatientsOnly,
    PhoneCodeRequired,
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
INVITE_PURPOSE = "invite"
PHONE_CODE_PURPOSE = "invite-phone"
PHONE_CODE_TTL = timedelta(minutes=10)
# Texts sent to an invited number, and guesses of the texted code, per account.
PHONE_CODES_SENT = RateLimit("invite-phone-sent", limit=5, window_seconds=3600)
PHONE_CODE_ATTEMPTS = RateLimit("invite-phone-attempts", limit=5, window_seconds=900)
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
        invitation_limit: RateLimit,
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
        self._invitation_limit = invitation_limit

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
        await self._throttle.check(self._invitation_limit, who.account_id)
        # The invitation remembers where it went: only that address or number takes it.
        bound_to = to.strip().lower() if channel == "email" else to
        code = new_token()
        await self._codes.issue(
            code,
            OneTimeCode(
                INVITE_PURPOSE,
                provider_id,
                {
                    "kind": str(kind),
                    "invited_by": who.account_id,
                    "channel": channel,
                    "to": bound_to,
                },
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
                f"{link}\n\nRegister or log in with this e-mail address to accept. "
                f"The link can be used once and is valid for 7 days.\n"
                f"{EMERGENCY_NOTICE}",
            )
        await self._audit.record(
            AuditAction.INVITATION_CREATED,
            actor=who.account_id,
            subject=provider_id,
            ip=ip,
            details={"channel": channel},
        )

    async def send_phone_code(self, who: Principal, code: str, ip: str) -> None:
        """Texts a 6-digit code to the number an SMS invitation was sent to; typing
        it back proves the caller holds that phone."""
        if who.role is not Role.PATIENT:
            raise PatientsOnly()
        await self._throttle.check(PHONE_CODES_SENT, who.account_id)
        now = self._clock.now()
        invitation = (
            await self._codes.peek(code, INVITE_PURPOSE, now) if well_formed(code) else None
        )
        if invitation is None or invitation.data.get("channel") != "sms":
            raise InvalidCode()
        digits = f"{secrets.randbelow(10**6):06d}"
        await self._codes.issue(
            _phone_code_key(code, who.account_id, digits),
            OneTimeCode(PHONE_CODE_PURPOSE, who.account_id, {}, now + PHONE_CODE_TTL),
        )
        await self._sms.send_sms(
            invitation.data["to"],
            f"CareChat code {digits}: it links your account to the care provider who "
            "invited you. Valid 10 minutes. Did not ask for it? Ignore this text.",
        )

    async def accept_invitation(
        self, who: Principal, code: str, phone_code: str | None, ip: str
    ) -> CareLink:
        if who.role is not Role.PATIENT:
            raise PatientsOnly()
        now = self._clock.now()
        invitation = (
            await self._codes.peek(code, INVITE_PURPOSE, now) if well_formed(code) else None
        )
        account = await self._accounts.get(who.account_id)
        if invitation is None or account is None:
            raise InvalidCode()
        bound_to = invitation.data.get("to")
        by_sms = invitation.data.get("channel") == "sms"
        if not by_sms and bound_to != account.email:
            # Someone else's invitation looks like an unknown code, and stays unused.
            raise InvalidCode()
        existing = await self._links.live_between(who.account_id, invitation.subject)
        if existing is not None and existing.status is not LinkStatus.ACTIVE:
            raise LinkRequestPending()
        if by_sms:
            if phone_code is None:
                raise PhoneCodeRequired()
            await self._throttle.check(PHONE_CODE_ATTEMPTS, who.account_id)
            proof = await self._codes.redeem(
                _phone_code_key(code, who.account_id, phone_code), PHONE_CODE_PURPOSE, now
            )
            if proof is None:
                raise InvalidCode()
        # Used up only now, and only if still bound to the same place (no race).
        redeemed = await self._codes.redeem(code, INVITE_PURPOSE, now, bound={"to": str(bound_to)})
        if redeemed is None:
            raise InvalidCode()
        if existing is not None:
            return existing
        kind = ProviderKind(invitation.data["kind"])
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

    async def _peek_invitation(self, code: str, now: datetime) -> OneTimeCode | None:
        return await self._codes.peek(code, INVITE_PURPOSE, now) if well_formed(code) else None

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


def _phone_code_key(invitation_code: str, account_id: str, digits: str) -> str:
    # Stored hashed with the invitation's 256-bit code in it: a stolen database gives
    # nothing to brute-force offline, and the code works only for this account.
    return f"{invitation_code}:{account_id}:{digits}"
