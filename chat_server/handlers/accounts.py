"""Accounts and sessions: registration, e-mail verification, login, logout, passwords
and their reset, TOTP, WebSocket tickets, and the platform admin's actions on accounts.

Practitioners must turn on TOTP within ``practitioner_totp_grace_days`` of registering,
or of ``practitioner_totp_required_from`` if they registered before the rule took
effect: until then they log in with a password alone (and set it up); after that, a
login without TOTP set up is refused and the operator has to step in.

No enumeration: registering a known address answers exactly like a new one (the
owner gets an e-mail instead), and so does asking for a password reset; a login for
an unknown address does the same argon2id work and gets the same error as a wrong
password. An unverified registration does not reserve its address: registering the
address again replaces it, and the earlier link stops working, so whoever registered
first without holding the mailbox cannot squat it (e-mail pre-hijacking). Verifying
takes the link's token and the registration's password, so the owner clicking the
newest link in their mailbox cannot activate an attacker's later registration of
their address: only whoever holds both the mailbox and the password can. Passwords
must pass the strength estimator (``password_strength.py``). Throttling is per address and per
IP, in fixed windows, so an attacker can delay the owner but never lock them out for
good. Every security-relevant step is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from chat_server import totp
from chat_server.clock import Clock
from chat_server.errors import (
    AccountSuspended,
    Forbidden,
    InvalidCode,
    InvalidCredentials,
    InvalidTicket,
    NotFound,
    TotpAlreadyEnabled,
    TotpEnrolmentOverdue,
    TotpRequired,
    TotpSetupNotStarted,
    Unauthenticated,
)
from chat_server.handlers.audit import Auditor
from chat_server.handlers.throttle import Throttle
from chat_server.mail import Mailer
from chat_server.password_strength import check_strength
from chat_server.passwords import PasswordHasher
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import Account, AccountStore, EmailTaken, Registration
from chat_server.storage.devices import DeviceStore
from chat_server.storage.sessions import CodeStore, OneTimeCode, SessionStore, Ticket, TicketStore
from chat_server.tokens import new_id, new_token, well_formed
from moderation.audit import AuditAction
from moderation.ratelimit import RateLimit

# Revokes live sockets on every process: (account, session or None for all).
SocketRevoker = Callable[[str, str | None], Awaitable[None]]

LOGIN_PER_ACCOUNT = RateLimit("login-account", limit=10, window_seconds=300)
LOGIN_PER_IP = RateLimit("login-ip", limit=30, window_seconds=60)
REGISTER_PER_IP = RateLimit("register-ip", limit=10, window_seconds=3600)
RESET_PER_IP = RateLimit("reset-ip", limit=10, window_seconds=3600)
# Each request mails the owner: a stranger must not be able to flood their inbox.
RESET_PER_ADDRESS = RateLimit("reset-address", limit=3, window_seconds=3600)
# Verifying checks a password: guessing it takes a live link (the mailbox) and is
# throttled per registration, so whoever reads the mailbox gets a few tries, not a
# dictionary.
VERIFY_PER_ACCOUNT = RateLimit("verify-account", limit=10, window_seconds=3600)
VERIFY_TTL = timedelta(hours=48)
VERIFY_PURPOSE = "verify-email"
RESET_PURPOSE = "reset-password"


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


class AccountService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        sessions: SessionStore,
        tickets: TicketStore,
        codes: CodeStore,
        devices: DeviceStore,
        hasher: PasswordHasher,
        clock: Clock,
        mailer: Mailer,
        throttle: Throttle,
        auditor: Auditor,
        revoke_sockets: SocketRevoker,
        policy: SessionPolicy,
        public_url: str,
        password_reset_ttl: timedelta,
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._tickets = tickets
        self._codes = codes
        self._devices = devices
        self._hasher = hasher
        self._clock = clock
        self._mailer = mailer
        self._throttle = throttle
        self._audit = auditor
        self._revoke_sockets = revoke_sockets
        self._policy = policy
        self._public_url = public_url
        self._reset_ttl = password_reset_ttl

    # -- registration -----------------------------------------------------------------

    async def register(
        self,
        *,
        email: str,
        password: str,
        role: Role,
        display_name: str,
        registration: Registration | None,
        ip: str,
    ) -> None:
        """Creates an unverified account and mails a verification link; same answer
        whether or not the address is already registered."""
        await self._throttle.check(REGISTER_PER_IP, ip)
        check_strength(password, user_inputs=(email, display_name))
        password_hash = await self._hasher.hash(password)
        account_id = new_id()
        create = partial(
            self._accounts.create,
            account_id=account_id,
            email=email,
            role=role,
            display_name=display_name,
            password_hash=password_hash,
            now=self._clock.now(),
            registration=registration,
        )
        if not await self._create_unless_confirmed(email, create):
            await self._mailer.send(
                email,
                "CareChat: someone tried to register with your address",
                "Someone (perhaps you) tried to create a CareChat account with this "
                "address, which already has one. If it was you, log in or reset your "
                f"password at {self._public_url}/reset-password. Otherwise you can ignore "
                "this message.",
            )
            return
        token = new_token()
        await self._codes.issue(
            token,
            OneTimeCode(VERIFY_PURPOSE, account_id, {}, self._clock.now() + VERIFY_TTL),
        )
        await self._mailer.send(
            email,
            "CareChat: confirm your e-mail address",
            f"Confirm your address to activate your CareChat account:\n\n"
            f"{self._public_url}/verify#{token}\n\nThe link is valid for 48 hours. "
            "If you did not just register, do not follow it: ignore this message.",
        )

    async def _create_unless_confirmed(
        self, email: str, create: Callable[[], Awaitable[Account]]
    ) -> bool:
        """Creates the account; False if a confirmed account has the address. An
        unverified registration of it is replaced, not honoured: it reserves nothing,
        and its verification link (mailed to the real owner) dies with it."""
        try:
            await create()
            return True
        except EmailTaken:
            pass
        pending = await self._accounts.by_email(email)
        if pending is None or not await self._accounts.discard_unverified(pending.id):
            return False
        await self._codes.discard(VERIFY_PURPOSE, pending.id)
        try:
            await create()
        except EmailTaken:  # a concurrent registration of the address got there first
            return False
        return True

    async def verify_email(self, token: str, password: str) -> str:
        """Activates the registration the token was mailed for, if ``password`` is its
        password. A wrong token and a wrong password get the same :class:`InvalidCode`;
        a wrong password leaves the link usable (a typo must not cost the link)."""
        now = self._clock.now()
        code = await self._codes.peek(token, VERIFY_PURPOSE, now) if well_formed(token) else None
        account = await self._accounts.get(code.subject) if code is not None else None
        if account is None:
            raise InvalidCode()
        await self._throttle.check(VERIFY_PER_ACCOUNT, account.id, fail_closed=True)
        if not await self._hasher.verify(account.password_hash, password):
            raise InvalidCode()
        if await self._codes.redeem(token, VERIFY_PURPOSE, self._clock.now()) is None:
            raise InvalidCode()  # a concurrent request used it, or re-registering discarded it
        if account.status is AccountStatus.UNVERIFIED:
            await self._accounts.set_fields(account.id, status=str(AccountStatus.ACTIVE))
        return account.id

    # -- sessions ---------------------------------------------------------------------

    async def login(
        self, email: str, password: str, totp_code: str | None, ip: str
    ) -> SessionGrant:
        await self._throttle.check(LOGIN_PER_IP, ip, fail_closed=True)
        await self._throttle.check(LOGIN_PER_ACCOUNT, email, fail_closed=True)
        account = await self._accounts.by_email(email)
        ok = await self._hasher.verify(account.password_hash if account else None, password)
        if account is None or not ok:
            await self._audit.record(
                AuditAction.LOGIN_FAILED, actor=account.id if account else None, ip=ip
            )
            raise InvalidCredentials()
        if account.status is AccountStatus.SUSPENDED:
            raise AccountSuspended()
        if account.status is AccountStatus.UNVERIFIED:
            raise InvalidCredentials("confirm your e-mail address first (see the link we sent)")
        if account.totp_enabled:
            await self._check_totp(account, totp_code)
        elif account.role is Role.PRACTITIONER and self._clock.now() >= (
            max(account.created_at, self._policy.practitioner_totp_from)
            + self._policy.practitioner_totp_grace
        ):
            # Asked only after the password checked out: no oracle for strangers.
            raise TotpEnrolmentOverdue()
        await self._throttle.reset(LOGIN_PER_ACCOUNT, email)
        token = new_token()
        session = await self._sessions.create(
            token, account.id, self._clock.now(), self._policy.idle, self._policy.absolute
        )
        await self._audit.record(AuditAction.LOGIN, actor=account.id, ip=ip)
        return SessionGrant(token, account, session.expires_at)

    async def _check_totp(self, account: Account, code: str | None) -> None:
        assert account.totp_secret is not None
        step = (
            totp.matching_step(account.totp_secret, code, self._clock.now(), account.totp_last_step)
            if code
            else None
        )
        if step is None or not await self._accounts.claim_totp_step(account.id, step):
            raise TotpRequired()

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

    async def change_password(self, who: Principal, current: str, new: str, ip: str) -> None:
        await self._throttle.check(LOGIN_PER_ACCOUNT, who.account_id)
        account = await self._require(who.account_id)
        if not await self._hasher.verify(account.password_hash, current):
            await self._audit.record(AuditAction.LOGIN_FAILED, actor=who.account_id, ip=ip)
            raise InvalidCredentials("the current password is wrong")
        check_strength(new, user_inputs=(account.email, account.display_name), field="new_password")
        await self._accounts.set_fields(account.id, password_hash=await self._hasher.hash(new))
        # Every other session, and every socket (this session's too), must go.
        await self._sessions.revoke_all(account.id, except_session=who.session_id)
        await self._revoke_sockets(account.id, None)
        await self._audit.record(AuditAction.PASSWORD_CHANGED, actor=account.id, ip=ip)

    # -- password reset ---------------------------------------------------------------

    async def request_password_reset(self, email: str, ip: str) -> None:
        """Mails a single-use reset link to an active account; the same answer for
        any address."""
        await self._throttle.check(RESET_PER_IP, ip)
        await self._throttle.check(RESET_PER_ADDRESS, email)
        account = await self._accounts.by_email(email)
        if account is None or account.status is not AccountStatus.ACTIVE:
            return
        token = new_token()
        await self._codes.issue(
            token,
            OneTimeCode(RESET_PURPOSE, account.id, {}, self._clock.now() + self._reset_ttl),
        )
        minutes = int(self._reset_ttl.total_seconds() // 60)
        await self._mailer.send(
            email,
            "CareChat: reset your password",
            f"Someone (perhaps you) asked to reset the password of your CareChat "
            f"account. To choose a new one, follow this link within {minutes} minutes:"
            f"\n\n{self._public_url}/reset-password#{token}\n\nIt logs out every "
            "session. Your recovery passphrase and your devices stay as they are. If you "
            "did not ask for this, ignore this message: your password is unchanged.",
        )

    async def reset_password(self, token: str, new: str, ip: str) -> None:
        """Sets a new password with a reset token; every session and ticket of the
        account is revoked and its sockets are closed. Keys are untouched: the
        password protects no key (the key backup is sealed by the recovery
        passphrase), so devices and the backup stay as they were."""
        now = self._clock.now()
        code = await self._codes.peek(token, RESET_PURPOSE, now) if well_formed(token) else None
        account = await self._accounts.get(code.subject) if code is not None else None
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise InvalidCode()
        # Checked before the token is used up, so a weak choice can be corrected.
        check_strength(new, user_inputs=(account.email, account.display_name), field="new_password")
        if await self._codes.redeem(token, RESET_PURPOSE, now) is None:
            raise InvalidCode()
        await self._accounts.set_fields(account.id, password_hash=await self._hasher.hash(new))
        await self._codes.discard(RESET_PURPOSE, account.id)
        await self._sessions.revoke_all(account.id)
        await self._tickets.revoke_all(account.id)
        await self._revoke_sockets(account.id, None)
        await self._audit.record(AuditAction.PASSWORD_RESET, actor=account.id, ip=ip)
        await self._mailer.send(
            account.email,
            "CareChat: your password was reset",
            "The password of your CareChat account was just reset and every session "
            "was logged out. If this was not you, reset it again now and tell your "
            "practice.",
        )

    async def profile(self, who: Principal) -> dict[str, object]:
        account = await self._require(who.account_id)
        return {
            **account.public_profile(),
            "email": account.email,
            "totp_enabled": account.totp_enabled,
            "root_key": account.root_key,
        }

    # -- TOTP -------------------------------------------------------------------------

    async def start_totp(self, who: Principal) -> dict[str, str]:
        account = await self._require(who.account_id)
        if account.role is Role.PATIENT:
            raise Forbidden("two-factor login is offered to practitioners and admins")
        if account.totp_enabled:
            raise TotpAlreadyEnabled("two-factor login is already on")
        secret = totp.new_secret()
        await self._accounts.set_fields(account.id, totp_secret=secret, totp_enabled=False)
        return {"secret": secret, "uri": totp.provisioning_uri(secret, account.email)}

    async def confirm_totp(self, who: Principal, code: str, ip: str) -> None:
        account = await self._require(who.account_id)
        if account.totp_secret is None or account.totp_enabled:
            raise TotpSetupNotStarted("start two-factor set-up first")
        await self._check_totp(account, code)
        await self._accounts.set_fields(account.id, totp_enabled=True)
        await self._audit.record(AuditAction.TOTP_ENABLED, actor=account.id, ip=ip)

    # -- WebSocket tickets ------------------------------------------------------------

    async def issue_ticket(self, who: Principal, device_id: str | None) -> tuple[str, datetime]:
        if device_id is not None:
            device = await self._devices.get(device_id)
            if device is None or device.account_id != who.account_id or device.revoked_at:
                raise NotFound("no such device")
        token = new_token()
        expires = self._clock.now() + self._policy.ticket
        await self._tickets.issue(token, Ticket(who.account_id, who.session_id, device_id, expires))
        return token, expires

    async def redeem_ticket(self, token: str) -> Principal:
        """Single use: the ticket is deleted by the same operation that reads it."""
        now = self._clock.now()
        ticket = await self._tickets.redeem(token, now) if well_formed(token) else None
        if ticket is None:
            raise InvalidTicket()
        account = await self._accounts.get(ticket.account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise InvalidTicket()
        if not await self._sessions.is_live(ticket.session_id, now):
            raise InvalidTicket()
        if ticket.device_id is not None:
            device = await self._devices.get(ticket.device_id)
            if device is None or device.revoked_at is not None:
                raise InvalidTicket()
        return Principal(account.id, account.role, ticket.session_id, ticket.device_id)

    # -- platform admin ---------------------------------------------------------------

    async def verify_registration(self, admin: Principal, account_id: str) -> None:
        self._require_admin(admin)
        account = await self._accounts.get(account_id)
        if account is None or account.registration is None:
            raise NotFound()
        await self._accounts.set_fields(account_id, **{"registration.verified": True})
        await self._audit.record(
            AuditAction.ACCOUNT_VERIFIED, actor=admin.account_id, subject=account_id
        )

    async def suspend(self, admin: Principal, account_id: str) -> None:
        self._require_admin(admin)
        if await self._accounts.set_fields(account_id, status=str(AccountStatus.SUSPENDED)) is None:
            raise NotFound()
        await self._sessions.revoke_all(account_id)
        await self._revoke_sockets(account_id, None)
        await self._audit.record(
            AuditAction.ACCOUNT_SUSPENDED, actor=admin.account_id, subject=account_id
        )

    @staticmethod
    def _require_admin(who: Principal) -> None:
        if who.role is not Role.ADMIN:
            raise Forbidden("platform admins only")

    async def _require(self, account_id: str) -> Account:
        account = await self._accounts.get(account_id)
        if account is None:
            raise Unauthenticated()
        return account
