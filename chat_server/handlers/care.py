"""Practices and care relationships.

Practice membership is consented and signed, because practitioners and staff of a
practice become participants of its patients' threads (and so recipients of their
messages). The admin proposes a role (``invite_member``); the account accepts it
itself (``accept_membership``) and may withdraw at any time; only then may the
admin's client publish a membership list naming it (``publish_membership``), signed
by the admin's root key and numbered. The server refuses a list that names anyone
who has not accepted that role, a patient, or a practitioner whose registration no
platform admin has verified; clients verify the signature themselves and never
encrypt to an account outside the latest verified list (docs/protocol.md).

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
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from chat_server.clock import Clock
from chat_server.errors import (
    CareLinkAlreadyAnswered,
    CareLinkExists,
    CareLinkNotLive,
    Forbidden,
    InvalidCode,
    InvalidSignature,
    LinkRequestPending,
    MemberNotConsented,
    MemberRoleNotAllowed,
    MembershipEpochTaken,
    NotAcceptingRequests,
    NotFound,
    PatientsOnly,
    PhoneCodeRequired,
    RegistrationNotVerified,
    RootKeyRequired,
)
from chat_server.handlers.access import AccessGate
from chat_server.handlers.audit import Auditor
from chat_server.handlers.throttle import Throttle
from chat_server.mail import Mailer, SmsSender
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import Account, AccountStore
from chat_server.storage.practices import (
    CareLink,
    CareLinkStore,
    EpochTaken,
    LinkExists,
    LinkStatus,
    Practice,
    PracticeStore,
    ProviderKind,
)
from chat_server.storage.sessions import CodeStore, OneTimeCode
from chat_server.tokens import new_id, new_token, well_formed
from e2e_crypto.errors import CryptoError
from e2e_crypto.membership_public import (
    MAX_MEMBERSHIP_BYTES,
    Membership,
    parse_membership,
    verify_membership,
)
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.wire import from_base64url
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
        membership_changed: Callable[[Practice], Awaitable[None]],
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
        self._membership_changed = membership_changed

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

    async def invite_member(
        self, who: Principal, practice_id: str, account_id: str, role: str
    ) -> Practice:
        """Proposes ``role``; the account is a member of nothing until it accepts and
        a signed list names it."""
        await self._gate.practice(who, practice_id, admin=True)
        account = await self._accounts.get(account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise NotFound()
        _require_eligible(account, role)
        practice = await self._practices.invite(practice_id, account_id, role)
        if practice is None:
            raise NotFound()
        await self._audit.record(
            AuditAction.ADMIN_ACTION,
            actor=who.account_id,
            subject=practice_id,
            details={"what": "member_invited", "member": account_id, "role": role},
        )
        return practice

    async def membership_invitations(self, who: Principal) -> list[dict[str, Any]]:
        """The practices that proposed a role to ``who``, and whether it accepted."""
        return [
            {
                "practice_id": p.id,
                "name": p.name,
                "admin": p.admin,
                "role": p.invitations[who.account_id].role,
                "accepted": p.invitations[who.account_id].accepted,
            }
            for p in await self._practices.inviting(who.account_id)
        ]

    async def accept_membership(self, who: Principal, practice_id: str) -> Practice:
        """The invited account's own consent to the role it was offered."""
        practice = await self._practices.get(practice_id)
        invitation = practice.invitations.get(who.account_id) if practice else None
        if practice is None or invitation is None:
            raise NotFound()
        account = await self._accounts.get(who.account_id)
        if account is None:
            raise NotFound()
        _require_eligible(account, invitation.role)
        accepted = await self._practices.accept(practice_id, who.account_id, invitation.role)
        if accepted is None:  # the admin changed the proposal meanwhile: read it again
            raise NotFound()
        await self._audit.record(
            AuditAction.ADMIN_ACTION,
            actor=who.account_id,
            subject=practice_id,
            details={"what": "membership_accepted", "role": invitation.role},
        )
        return accepted

    async def withdraw_membership(self, who: Principal, practice_id: str) -> None:
        """Declines an invitation or withdraws consent: no later list may name ``who``.
        (The current list still does until the admin publishes the next one; clients
        show who that is.)"""
        if await self._practices.withdraw(practice_id, who.account_id) is None:
            raise NotFound()
        await self._audit.record(
            AuditAction.ADMIN_ACTION,
            actor=who.account_id,
            subject=practice_id,
            details={"what": "membership_withdrawn"},
        )

    async def publish_membership(
        self, who: Principal, practice_id: str, membership_b64: str
    ) -> Practice:
        practice = await self._gate.practice(who, practice_id, admin=True)
        if who.account_id != practice.admin:
            raise NotFound()
        admin = await self._accounts.get(practice.admin)
        if admin is None or admin.root_key is None:
            raise RootKeyRequired()
        try:
            raw = from_base64url(membership_b64, max_bytes=MAX_MEMBERSHIP_BYTES)
            parsed = parse_membership(raw)
            if parsed.epoch <= practice.epoch:
                raise MembershipEpochTaken()
            verified = verify_membership(
                parsed,
                practice_id=practice.id,
                admin_account=practice.admin,
                admin_root_key=PublicSigningKey(from_base64url(admin.root_key, max_bytes=32)),
                previous=_stored_membership(practice),
            )
        except CryptoError as exc:
            raise InvalidSignature(log_detail=str(exc)) from None
        await self._require_consent(practice, verified)
        roles = verified.roles()
        try:
            published = await self._practices.publish_membership(
                practice.id,
                epoch=verified.epoch,
                signed=raw,
                digest=verified.digest(),
                practitioners=[a for a, r in roles.items() if r.label == "practitioner"],
                staff=[a for a, r in roles.items() if r.label == "staff"],
                now=self._clock.now(),
            )
        except EpochTaken:
            now = await self._practices.get(practice.id)
            if now is not None and now.epoch >= verified.epoch:
                raise MembershipEpochTaken() from None
            raise MemberNotConsented() from None
        await self._audit.record(
            AuditAction.ADMIN_ACTION,
            actor=who.account_id,
            subject=practice_id,
            details={"what": "membership_published", "epoch": verified.epoch},
        )
        await self._membership_changed(published)
        return published

    async def membership(self, who: Principal, practice_id: str) -> Practice:
        """The practice's latest signed list, for everyone who may be encrypting to
        its members: its members, invitees and patients with an active link."""
        return await self._gate.practice_view(who, practice_id)

    async def _require_consent(self, practice: Practice, membership: Membership) -> None:
        for member in membership.members:
            invitation = practice.invitations.get(member.account_id)
            if (
                invitation is None
                or not invitation.accepted
                or invitation.role != member.role.label
            ):
                raise MemberNotConsented()
            account = await self._accounts.get(member.account_id)
            if account is None or account.status is not AccountStatus.ACTIVE:
                raise MemberNotConsented()
            _require_eligible(account, invitation.role)

    async def get_practice(self, who: Principal, practice_id: str) -> Practice:
        return await self._gate.practice_view(who, practice_id)

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


def _require_eligible(account: Account, role: str) -> None:
    """Who may hold a practice role: never a patient (nor a platform admin), and a
    practitioner only with a registration a platform admin has verified."""
    if account.role in (Role.PATIENT, Role.ADMIN):
        raise MemberRoleNotAllowed()
    if role == "practitioner":
        if account.role is not Role.PRACTITIONER:
            raise MemberRoleNotAllowed()
        if account.registration is None or not account.registration.verified:
            raise RegistrationNotVerified()


def _stored_membership(practice: Practice) -> Membership | None:
    return parse_membership(practice.membership) if practice.membership else None
