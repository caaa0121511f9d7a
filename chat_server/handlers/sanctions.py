"""Moderators' actions on an account: warn, suspend, lift, each with a reason.

Only platform admins (the moderators) act. Each action lands in the hash-chained
audit log with its reason code (never the note, which is for the person and may
describe what they wrote). A suspension ends the account's sessions and tickets and
closes every socket of the account on every server process at once (a fan-out
event; ``ws/session.py`` closes with the reason); the person then sees why and how to
appeal when they try to log in (``sessions.py``). Lifting lets them log in again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chat_server.clock import Clock
from chat_server.errors import AccountAlreadySuspended, AccountNotSuspended, Forbidden, NotFound
from chat_server.handlers.audit import Auditor
from chat_server.handlers.sessions import SignOut
from chat_server.principal import Principal, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.sanctions import SanctionStore
from moderation.audit import AuditAction
from moderation.sanctions import ModeratorAction, Reason, Sanction

# Closes every socket of an account on every process, with the suspension's reason.
SuspendSockets = Callable[[str, Reason], Awaitable[None]]

_AUDITED = {
    ModeratorAction.WARN: AuditAction.ACCOUNT_WARNED,
    ModeratorAction.SUSPEND: AuditAction.ACCOUNT_SUSPENDED,
    ModeratorAction.LIFT: AuditAction.SUSPENSION_LIFTED,
}


class Sanctions:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        sanctions: SanctionStore,
        clock: Clock,
        auditor: Auditor,
        sign_out: SignOut,
        suspend_sockets: SuspendSockets,
        appeal: str,
    ) -> None:
        self._accounts = accounts
        self._sanctions = sanctions
        self._clock = clock
        self._audit = auditor
        self._sign_out = sign_out
        self._suspend_sockets = suspend_sockets
        self._appeal = appeal

    async def act(
        self,
        moderator: Principal,
        account_id: str,
        action: ModeratorAction,
        reason: Reason,
        note: str = "",
    ) -> None:
        if moderator.role is not Role.ADMIN:
            raise Forbidden("moderators (platform admins) only")
        sanction = Sanction(action, reason, self._clock.now(), note)
        if not await self._sanctions.apply(account_id, sanction):
            account = await self._accounts.get(account_id)
            if account is None:
                raise NotFound()
            if action is ModeratorAction.SUSPEND:
                raise AccountAlreadySuspended()
            raise AccountNotSuspended()
        if action is ModeratorAction.SUSPEND:
            await self._sign_out.sessions.revoke_all(account_id)
            await self._sign_out.tickets.revoke_all(account_id)
            await self._suspend_sockets(account_id, reason)
        await self._audit.record(
            _AUDITED[action],
            actor=moderator.account_id,
            subject=account_id,
            details={"reason": str(reason), "note": bool(note)},
        )

    async def mine(self, who: Principal) -> list[dict[str, str]]:
        """The caller's own warnings and suspensions, as they were told."""
        return [s.shown(self._appeal) for s in await self._sanctions.history(who.account_id)]
