"""Logging in and out, and resolving a session token to its principal.

Practitioners must turn on TOTP within ``practitioner_totp_grace_days`` of registering,
or of ``practitioner_totp_required_from`` if they registered before the rule took
effect: until then they log in with a password alone (and set it up); after that, a
login without TOTP set up is refused and the operator has to step in.

No enumeration: a login for an unknown address does the same argon2id work and gets
the same error as a wrong password. Throttling is per address and per IP, in fixed
windows, so an attacker can delay the owner but never lock them out for good. Every
login, failed login and logout is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chat_server.clock import Clock
from chat_server.errors import (
    AccountSuspended,
    InvalidCredentials,
    TotpEnrolmentOverdue,
    Unauthenticated,
)
from chat_server.handlers.audit import Auditor
from chat_server.handlers.throttle import Throttle
from chat_server.handlers.totp import check_totp
from chat_server.passwords import PasswordHasher
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import Account, AccountStore
from chat_server.storage.sessions import SessionStore, TicketStore
from chat_server.tokens import new_token, well_formed
from moderation.audit import AuditAction
from moderation.limits import Action, Scope, Subject

# Revokes live sockets on every process: (account, session or None for all).
SocketRevoker = Callable[[str, str | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SessionGrant:
    token: str
    account: Account
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta
    ticket: timedelta
    # How long after registering a practitioner may still log in without TOTP; for
    # accounts older than the rule, counted from when it took effect.
    practitioner_totp_grace: timedelta
    practitioner_totp_from: datetime
    # Where a suspended person appeals (shown with the suspension at login).
    appeal: str = ""


@dataclass(frozen=True, slots=True)
class SignOut:
    """What ends an account's access: its sessions, its WebSocket tickets and its live
    sockets on every process. Kept together so that whoever signs an account out
    (password change and reset, suspension) reaches all three."""

    sessions: SessionStore
    tickets: TicketStore
    sockets: SocketRevoker


class SessionService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        sessions: SessionStore,
        hasher: PasswordHasher,
        clock: Clock,
        throttle: Throttle,
        auditor: Auditor,
        revoke_sockets: SocketRevoker,
        policy: SessionPolicy,
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._hasher = hasher
        self._clock = clock
        self._throttle = throttle
        self._audit = auditor
        self._revoke_sockets = revoke_sockets
        self._policy = policy

    async def login(
        self, email: str, password: str, totp_code: str | None, ip: str
    ) -> SessionGrant:
        await self._throttle.action(Action.LOGIN, Subject(account=email, ip=ip), fail_closed=True)
        account = await self._accounts.by_email(email)
        ok = await self._hasher.verify(account.password_hash if account else None, password)
        if account is None or not ok:
            await self._audit.record(
                AuditAction.LOGIN_FAILED, actor=account.id if account else None, ip=ip
            )
            raise InvalidCredentials()
        if account.status is AccountStatus.SUSPENDED:
            # After the password checked out: only the owner learns why.
            shown = account.suspension.shown(self._policy.appeal) if account.suspension else None
            raise AccountSuspended(suspension=shown)
        if account.status is AccountStatus.UNVERIFIED:
            raise InvalidCredentials("confirm your e-mail address first (see the link we sent)")
        if account.totp_enabled:
            await check_totp(self._accounts, account, totp_code, self._clock.now())
        elif account.role is Role.PRACTITIONER and self._clock.now() >= (
            max(account.created_at, self._policy.practitioner_totp_from)
            + self._policy.practitioner_totp_grace
        ):
            # Asked only after the password checked out: no oracle for strangers.
            raise TotpEnrolmentOverdue()
        await self._throttle.reset_action(Action.LOGIN, Scope.ACCOUNT, email)
        token = new_token()
        session = await self._sessions.create(
            token, account.id, self._clock.now(), self._policy.idle, self._policy.absolute
        )
        await self._audit.record(AuditAction.LOGIN, actor=account.id, ip=ip)
        return SessionGrant(token, account, session.expires_at)

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a session token, or Unauthenticated."""
        session = (
            await self._sessions.find_live(token, self._clock.now(), self._policy.idle)
            if well_formed(token)
            else None
        )
        if session is None:
            raise Unauthenticated("the session is unknown or expired; log in again")
        account = await self._accounts.get(session.account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise Unauthenticated("the session is no longer valid; log in again")
        return Principal(account.id, account.role, session.id)

    async def logout(self, who: Principal, ip: str) -> None:
        await self._sessions.revoke(who.session_id)
        await self._revoke_sockets(who.account_id, who.session_id)
        await self._audit.record(AuditAction.LOGOUT, actor=who.account_id, ip=ip)
