"""The moderator console's account look-up: one account, by id or e-mail address.

What a moderator needs to decide on a warning or a suspension: the account's status
and role, its sanctions (with the notes the person was shown), the reports naming it
as a sender (their state, not the revealed text: that is in the report queue), and how
many devices it has. Never its messages, keys or credentials. Each look-up is audited
(``data_access``): a moderator reading an account is itself something to account for.
"""

from __future__ import annotations

from chat_server.errors import NotFound
from chat_server.handlers.audit import Auditor
from chat_server.handlers.reports import report_summary, require_moderator
from chat_server.principal import Principal
from chat_server.storage.accounts import Account, AccountStore
from chat_server.storage.devices import DeviceStore
from chat_server.storage.reports import ReportStore
from chat_server.storage.sanctions import SanctionStore
from moderation.audit import AuditAction


class AccountLookup:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        sanctions: SanctionStore,
        reports: ReportStore,
        devices: DeviceStore,
        auditor: Auditor,
    ) -> None:
        self._accounts = accounts
        self._sanctions = sanctions
        self._reports = reports
        self._devices = devices
        self._audit = auditor

    async def find(
        self, moderator: Principal, *, account_id: str | None, email: str | None
    ) -> dict[str, object]:
        require_moderator(moderator)
        account: Account | None = None
        if account_id is not None:
            account = await self._accounts.get(account_id)
        elif email is not None:
            account = await self._accounts.by_email(email.strip().lower())
        if account is None:
            raise NotFound()
        await self._audit.record(
            AuditAction.DATA_ACCESS,
            actor=moderator.account_id,
            subject=account.id,
            details={"what": "account_lookup"},
        )
        sanctions = await self._sanctions.history(account.id)
        return {
            "account_id": account.id,
            "email": account.email,
            "display_name": account.display_name,
            "role": str(account.role),
            "status": str(account.status),
            "created_at": account.created_at.isoformat(),
            "devices": len(await self._devices.active([account.id])),
            "sanctions": [
                {
                    "action": str(s.action),
                    "reason": str(s.reason),
                    "at": s.at.isoformat(),
                    "note": s.note,
                }
                for s in reversed(sanctions)  # newest first, as the rest of the console
            ],
            "reports": [report_summary(r) for r in await self._reports.against(account.id)],
        }
