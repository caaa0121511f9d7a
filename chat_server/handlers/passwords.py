"""Changing a password, and resetting a forgotten one by a single-use mailed link.

No enumeration: asking for a reset answers the same for any address. Requests are
throttled per IP and per address (each one mails the owner). A new password must
pass the strength estimator (``password_strength.py``); setting one signs the
account out everywhere else, and is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chat_server.clock import Clock
from chat_server.errors import InvalidCode, InvalidCredentials, Unauthenticated
from chat_server.handlers.audit import Auditor
from chat_server.handlers.sessions import SignOut
from chat_server.handlers.throttle import Throttle
from chat_server.mail import Mailer
from chat_server.password_strength import check_strength
from chat_server.passwords import PasswordHasher
from chat_server.principal import AccountStatus, Principal
from chat_server.storage.accounts import Account, AccountStore
from chat_server.storage.sessions import CodeStore, OneTimeCode
from chat_server.tokens import new_token, well_formed
from moderation.audit import AuditAction
from moderation.limits import Action, Subject
from moderation.ratelimit import RateLimit

RESET_PER_IP = RateLimit("reset-ip", limit=10, window_seconds=3600)
# Each request mails the owner: a stranger must not be able to flood their inbox.
RESET_PER_ADDRESS = RateLimit("reset-address", limit=3, window_seconds=3600)
RESET_PURPOSE = "reset-password"


@dataclass(frozen=True, slots=True)
class ResetMail:
    """How reset links go out: through which mailer, into which web app, and how
    long each one stays valid."""

    mailer: Mailer
    public_url: str
    ttl: timedelta


class PasswordService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        codes: CodeStore,
        hasher: PasswordHasher,
        clock: Clock,
        throttle: Throttle,
        auditor: Auditor,
        sign_out: SignOut,
        reset_mail: ResetMail,
    ) -> None:
        self._accounts = accounts
        self._codes = codes
        self._hasher = hasher
        self._clock = clock
        self._throttle = throttle
        self._audit = auditor
        self._sign_out = sign_out
        self._reset_mail = reset_mail

    async def change_password(self, who: Principal, current: str, new: str, ip: str) -> None:
        await self._throttle.action(Action.LOGIN, Subject(account=who.account_id, ip=ip))
        account = await self._require(who.account_id)
        if not await self._hasher.verify(account.password_hash, current):
            await self._audit.record(AuditAction.LOGIN_FAILED, actor=who.account_id, ip=ip)
            raise InvalidCredentials("the current password is wrong")
        check_strength(new, user_inputs=(account.email, account.display_name), field="new_password")
        await self._accounts.set_fields(account.id, password_hash=await self._hasher.hash(new))
        # Every other session, and every socket (this session's too), must go.
        await self._sign_out.sessions.revoke_all(account.id, except_session=who.session_id)
        await self._sign_out.sockets(account.id, None)
        await self._audit.record(AuditAction.PASSWORD_CHANGED, actor=account.id, ip=ip)

    async def request_password_reset(self, email: str, ip: str) -> None:
        """Mails a single-use reset link to an active account; the same answer for
        any address."""
        await self._throttle.check(RESET_PER_IP, ip)
        await self._throttle.check(RESET_PER_ADDRESS, email)
        account = await self._accounts.by_email(email)
        if account is None or account.status is not AccountStatus.ACTIVE:
            return
        mail = self._reset_mail
        token = new_token()
        await self._codes.issue(
            token,
            OneTimeCode(RESET_PURPOSE, account.id, {}, self._clock.now() + mail.ttl),
        )
        minutes = int(mail.ttl.total_seconds() // 60)
        await mail.mailer.send(
            email,
            "CareChat: reset your password",
            f"Someone (perhaps you) asked to reset the password of your CareChat "
            f"account. To choose a new one, follow this link within {minutes} minutes:"
            f"\n\n{mail.public_url}/reset-password#{token}\n\nIt logs out every "
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
        await self._sign_out.sessions.revoke_all(account.id)
        await self._sign_out.tickets.revoke_all(account.id)
        await self._sign_out.sockets(account.id, None)
        await self._audit.record(AuditAction.PASSWORD_RESET, actor=account.id, ip=ip)
        await self._reset_mail.mailer.send(
            account.email,
            "CareChat: your password was reset",
            "The password of your CareChat account was just reset and every session "
            "was logged out. If this was not you, reset it again now and tell your "
            "practice.",
        )

    async def _require(self, account_id: str) -> Account:
        account = await self._accounts.get(account_id)
        if account is None:
            raise Unauthenticated()
        return account
