"""Registration and e-mail verification.

No enumeration: registering a known address answers exactly like a new one (the
owner gets an e-mail instead). An unverified registration does not reserve its
address: registering the address again replaces it, and the earlier link stops
working, so whoever registered first without holding the mailbox cannot squat it
(e-mail pre-hijacking). Passwords must pass the strength estimator
(``password_strength.py``). Registrations are throttled per IP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

from chat_server.clock import Clock
from chat_server.errors import InvalidCode
from chat_server.handlers.throttle import Throttle
from chat_server.mail import Mailer
from chat_server.password_strength import check_strength
from chat_server.passwords import PasswordHasher
from chat_server.principal import AccountStatus, Role
from chat_server.storage.accounts import Account, AccountStore, EmailTaken, Registration
from chat_server.storage.sessions import CodeStore, OneTimeCode
from chat_server.tokens import new_id, new_token, well_formed
from moderation.ratelimit import RateLimit

REGISTER_PER_IP = RateLimit("register-ip", limit=10, window_seconds=3600)
# Verifying checks a password: guessing it takes a live link (the mailbox) and is
# throttled per registration, so whoever reads the mailbox gets a few tries, not a
# dictionary.
VERIFY_PER_ACCOUNT = RateLimit("verify-account", limit=10, window_seconds=3600)
VERIFY_TTL = timedelta(hours=48)
VERIFY_PURPOSE = "verify-email"


class RegistrationService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        codes: CodeStore,
        hasher: PasswordHasher,
        clock: Clock,
        mailer: Mailer,
        throttle: Throttle,
        public_url: str,
    ) -> None:
        self._accounts = accounts
        self._codes = codes
        self._hasher = hasher
        self._clock = clock
        self._mailer = mailer
        self._throttle = throttle
        self._public_url = public_url

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
