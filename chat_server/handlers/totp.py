"""Two-factor login (TOTP) for practitioners and admins: setting it up, and checking
a code, each accepted once (``totp_last_step``), so an observed code cannot be
replayed. Patients are not offered it."""

from __future__ import annotations

from datetime import datetime

from chat_server import totp
from chat_server.clock import Clock
from chat_server.errors import (
    Forbidden,
    TotpAlreadyEnabled,
    TotpRequired,
    TotpSetupNotStarted,
    Unauthenticated,
)
from chat_server.handlers.audit import Auditor
from chat_server.principal import Principal, Role
from chat_server.storage.accounts import Account, AccountStore
from moderation.audit import AuditAction


async def check_totp(
    accounts: AccountStore, account: Account, code: str | None, now: datetime
) -> None:
    """Accepts a code for ``account``'s secret that no earlier login used, or raises
    TotpRequired. Shared by login and by confirming the set-up."""
    assert account.totp_secret is not None
    step = (
        totp.matching_step(account.totp_secret, code, now, account.totp_last_step) if code else None
    )
    if step is None or not await accounts.claim_totp_step(account.id, step):
        raise TotpRequired()


class TotpService:
    def __init__(self, *, accounts: AccountStore, clock: Clock, auditor: Auditor) -> None:
        self._accounts = accounts
        self._clock = clock
        self._audit = auditor

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
        await check_totp(self._accounts, account, code, self._clock.now())
        await self._accounts.set_fields(account.id, totp_enabled=True)
        await self._audit.record(AuditAction.TOTP_ENABLED, actor=account.id, ip=ip)

    async def _require(self, account_id: str) -> Account:
        account = await self._accounts.get(account_id)
        if account is None:
            raise Unauthenticated()
        return account
