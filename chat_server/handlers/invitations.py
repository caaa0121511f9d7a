"""Invitations: a provider invites a patient by e-mail or SMS, and the patient's
acceptance creates an active care link.

An invitation is a single-use, expiring code bound to where it was sent: an e-mail
one is accepted only by the account with that (verified) address; an SMS one only by
an account whose user types a second code texted to the invited number, so a
forwarded or leaked link is useless. One action never accepts another: accepting an
invitation leaves a pending link request alone (the provider answers it, or the
patient withdraws it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from chat_server.clock import Clock
from chat_server.errors import (
    InvalidCode,
    LinkRequestPending,
    NotFound,
    PatientsOnly,
    PhoneCodeRequired,
)
from chat_server.handlers.access import AccessGate
from chat_server.handlers.audit import Auditor
from chat_server.handlers.care import create_link
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.mail import Mailer, SmsSender
from chat_server.notice import EMERGENCY_NOTICE
from chat_server.principal import Principal, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.practices import CareLink, CareLinkStore, LinkStatus, ProviderKind
from chat_server.storage.sessions import CodeStore, OneTimeCode
from chat_server.tokens import new_token, well_formed
from moderation.audit import AuditAction
from moderation.limits import Action
from moderation.ratelimit import RateLimit

INVITATION_TTL = timedelta(days=7)
INVITE_PURPOSE = "invite"
PHONE_CODE_PURPOSE = "invite-phone"
PHONE_CODE_TTL = timedelta(minutes=10)
# Texts sent to an invited number, and guesses of the texted code, per account.
PHONE_CODES_SENT = RateLimit("invite-phone-sent", limit=5, window_seconds=3600)
PHONE_CODE_ATTEMPTS = RateLimit("invite-phone-attempts", limit=5, window_seconds=900)
# Per invitation as well: whoever holds a leaked link could otherwise text the
# number and guess from many cheap accounts, each with its own budget.
INVITATION_PHONE_CODES_SENT = RateLimit("invitation-phone-sent", limit=5, window_seconds=24 * 3600)
INVITATION_PHONE_CODE_ATTEMPTS = RateLimit(
    "invitation-phone-attempts", limit=10, window_seconds=24 * 3600
)


@dataclass(frozen=True, slots=True)
class InvitationSending:
    """How invitations go out: by e-mail or SMS, with a link into the web app (how
    many is moderation's ``Action.INVITATION`` budget)."""

    mailer: Mailer
    sms: SmsSender
    public_url: str


class InvitationService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        links: CareLinkStore,
        codes: CodeStore,
        gate: AccessGate,
        clock: Clock,
        throttle: Throttle,
        auditor: Auditor,
        sending: InvitationSending,
    ) -> None:
        self._accounts = accounts
        self._links = links
        self._codes = codes
        self._gate = gate
        self._clock = clock
        self._throttle = throttle
        self._audit = auditor
        self._sending = sending

    async def invite(
        self, who: Principal, kind: ProviderKind, provider_id: str, channel: str, to: str, ip: str
    ) -> None:
        await self._require_provider_identity(who, kind, provider_id)
        await self._throttle.action(Action.INVITATION, subject_of(who))
        await self._issue(who, kind, provider_id, channel, to, ip)

    async def invite_roster_row(
        self, who: Principal, practice_id: str, email: str, ip: str
    ) -> None:
        """An e-mail invitation for a row of the practice's roster import.

        Not held to the per-account limit of one-off invitations: the roster import
        (handlers/roster.py) has its own, per practice, counted in rows.
        """
        await self._require_provider_identity(who, ProviderKind.PRACTICE, practice_id)
        await self._issue(who, ProviderKind.PRACTICE, practice_id, "email", email, ip)

    async def _issue(
        self, who: Principal, kind: ProviderKind, provider_id: str, channel: str, to: str, ip: str
    ) -> None:
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
        link = f"{self._sending.public_url}/invite#{code}"
        if channel == "sms":
            await self._sending.sms.send_sms(
                to, f"Your care provider invites you to CareChat: {link}"
            )
        else:
            await self._sending.mailer.send(
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
        # Fail closed: without the limiter, codes could be sent and guessed freely.
        await self._throttle.check(PHONE_CODES_SENT, who.account_id, fail_closed=True)
        now = self._clock.now()
        invitation = (
            await self._codes.peek(code, INVITE_PURPOSE, now) if well_formed(code) else None
        )
        if invitation is None or invitation.data.get("channel") != "sms":
            raise InvalidCode()
        await self._throttle.check(
            INVITATION_PHONE_CODES_SENT, _invitation_key(code), fail_closed=True
        )
        digits = f"{secrets.randbelow(10**6):06d}"
        await self._codes.issue(
            _phone_code_key(code, who.account_id, digits),
            OneTimeCode(PHONE_CODE_PURPOSE, who.account_id, {}, now + PHONE_CODE_TTL),
        )
        await self._sending.sms.send_sms(
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
            await self._throttle.check(PHONE_CODE_ATTEMPTS, who.account_id, fail_closed=True)
            await self._throttle.check(
                INVITATION_PHONE_CODE_ATTEMPTS, _invitation_key(code), fail_closed=True
            )
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
        link = await create_link(
            self._links,
            who,
            kind,
            invitation.subject,
            LinkStatus.ACTIVE,
            "invitation",
            self._clock.now(),
        )
        await self._audit.record(
            AuditAction.CARE_LINK_CREATED, actor=who.account_id, subject=link.id, ip=ip
        )
        return link

    async def _require_provider_identity(
        self, who: Principal, kind: ProviderKind, provider_id: str
    ) -> None:
        """``who`` may invite on behalf of itself or of a practice it works in."""
        if kind is ProviderKind.PRACTITIONER:
            if provider_id != who.account_id or who.role is not Role.PRACTITIONER:
                raise NotFound()
            return
        await self._gate.practice(who, provider_id)


def _invitation_key(invitation_code: str) -> str:
    # Rate-limit keys may live in Redis: never the code itself, which is a bearer secret.
    return hashlib.sha256(invitation_code.encode()).hexdigest()[:32]


def _phone_code_key(invitation_code: str, account_id: str, digits: str) -> str:
    # Stored hashed with the invitation's 256-bit code in it: a stolen database gives
    # nothing to brute-force offline, and the code works only for this account.
    return f"{invitation_code}:{account_id}:{digits}"
