"""Practices and their consented, signed membership.

Practice membership is consented and signed, because practitioners and staff of a
practice become participants of its patients' threads (and so recipients of their
messages). The admin proposes a role (``invite_member``); the account accepts it
itself (``accept_membership``) and may withdraw at any time (the admin may take an
offer back while no list names the account: ``withdraw_offer``); only then may the
admin's client publish a membership list naming it (``publish_membership``), signed
by the admin's root key and numbered. The server refuses a list that names anyone
who has not accepted that role, a patient, or a practitioner whose registration no
platform admin has verified; clients verify the signature themselves and never
encrypt to an account outside the latest verified list (docs/protocol.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chat_server.clock import Clock
from chat_server.errors import (
    Forbidden,
    InvalidSignature,
    MemberNotConsented,
    MemberOnSignedList,
    MemberRoleNotAllowed,
    MembershipEpochTaken,
    NotFound,
    RegistrationNotVerified,
    RootKeyRequired,
)
from chat_server.handlers.access import AccessGate
from chat_server.handlers.audit import Auditor
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import Account, AccountStore
from chat_server.storage.practices import EpochTaken, Invitation, Practice, PracticeStore
from chat_server.tokens import new_id
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
from moderation.limits import Action


@dataclass(frozen=True, slots=True)
class PracticePerson:
    """Someone the practice's admin deals with, by name: an admin, a member of the
    latest signed list (``role``), or an account it proposed a role to."""

    account_id: str
    display_name: str | None  # None: the account was erased
    role: str | None  # "admin", or the role on the latest signed list; None: not on it
    invitation: Invitation | None

    def to_public(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "display_name": self.display_name,
            "role": self.role,
            "invitation": (
                {"role": self.invitation.role, "accepted": self.invitation.accepted}
                if self.invitation
                else None
            ),
        }


@dataclass(frozen=True, slots=True)
class OwnPractice:
    """A practice the caller works in, as the console's list names it: its roles there
    and nothing about anyone else."""

    practice_id: str
    name: str
    roles: tuple[str, ...]  # "admin", "practitioner", "staff": in that order

    def to_public(self) -> dict[str, Any]:
        return {"practice_id": self.practice_id, "name": self.name, "roles": list(self.roles)}


class PracticeService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        practices: PracticeStore,
        gate: AccessGate,
        clock: Clock,
        auditor: Auditor,
        throttle: Throttle,
        membership_changed: Callable[[Practice], Awaitable[None]],
    ) -> None:
        self._accounts = accounts
        self._practices = practices
        self._gate = gate
        self._clock = clock
        self._audit = auditor
        self._throttle = throttle
        self._membership_changed = membership_changed

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
        return await self._propose(who, practice_id, account, role)

    async def invite_member_by_email(
        self, who: Principal, practice_id: str, email: str, role: str
    ) -> Practice:
        """``invite_member`` for the account using ``email`` (the console's form).
        Patients and platform admins are not found, as an unused address: an
        admin learns nothing about who uses the product as a patient."""
        await self._gate.practice(who, practice_id, admin=True)
        await self._throttle.action(Action.KEY_LOOKUP, subject_of(who))
        account = await self._accounts.by_email(email.lower())
        if (
            account is None
            or account.status is not AccountStatus.ACTIVE
            or account.role in (Role.PATIENT, Role.ADMIN)
        ):
            raise NotFound()
        return await self._propose(who, practice_id, account, role)

    async def _propose(
        self, who: Principal, practice_id: str, account: Account, role: str
    ) -> Practice:
        account_id = account.id
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

    async def own_practices(self, who: Principal) -> list[OwnPractice]:
        """The practices naming ``who`` as an admin or on their signed list, by name.
        Pending offers are ``membership_invitations``; patients and platform admins
        hold no practice role (``_require_eligible``), so their list is empty."""
        own = [
            OwnPractice(
                p.id,
                p.name,
                tuple(
                    role
                    for role, accounts in (
                        ("admin", p.admins),
                        ("practitioner", p.practitioners),
                        ("staff", p.staff),
                    )
                    if who.account_id in accounts
                ),
            )
            for p in await self._practices.of_member(who.account_id)
        ]
        return sorted(own, key=lambda p: (p.name.casefold(), p.practice_id))

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

    async def withdraw_offer(self, who: Principal, practice_id: str, account_id: str) -> None:
        """The admin takes back a role it offered (a mistake): offered, or accepted but
        not on the signed list. Someone on the list leaves it only by the next list,
        which the admin's root key signs (``publish_membership``)."""
        practice = await self._gate.practice(who, practice_id, admin=True)
        if await self._practices.withdraw_offer(practice_id, account_id) is None:
            # Read again: a list published meanwhile may have named the account. A
            # listed account whose consent is gone is still listed: the same answer.
            now = await self._practices.get(practice_id) or practice
            if now.role_of(account_id) is not None:
                raise MemberOnSignedList()
            raise NotFound()
        await self._audit.record(
            AuditAction.ADMIN_ACTION,
            actor=who.account_id,
            subject=practice_id,
            details={"what": "member_offer_withdrawn", "member": account_id},
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

    async def people(self, who: Principal, practice_id: str) -> list[PracticePerson]:
        """The practice's admins, its listed members and the accounts it proposed a
        role to, with their display names: for its admins only (the console names
        them), so no name of an account the practice has nothing to do with."""
        practice = await self._gate.practice(who, practice_id, admin=True)
        roles: dict[str, str | None] = dict.fromkeys(practice.admins, "admin")
        for account_id in practice.practitioners:
            roles.setdefault(account_id, "practitioner")
        for account_id in practice.staff:
            roles.setdefault(account_id, "staff")
        for account_id in sorted(practice.invitations):
            roles.setdefault(account_id, None)
        accounts = await self._accounts.many(list(roles))
        return [
            PracticePerson(
                account_id,
                accounts[account_id].display_name if account_id in accounts else None,
                role,
                practice.invitations.get(account_id),
            )
            for account_id, role in roles.items()
        ]


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
