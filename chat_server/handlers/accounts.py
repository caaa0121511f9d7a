"""The account itself: its owner's view of it, and the platform admin's actions on it
(verifying a practitioner's registration), written to the audit log. Moderators'
actions (warn, suspend, lift) are ``sanctions.py``.

The rest of an account's life has its own handler: ``registration`` (signing up and
confirming the address), ``sessions`` (login, logout, resolving a token),
``passwords`` (change and reset), ``totp`` (two-factor login) and ``tickets``
(WebSocket tickets).
"""

from __future__ import annotations

from chat_server.errors import Forbidden, NotFound, Unauthenticated
from chat_server.handlers.audit import Auditor
from chat_server.handlers.personal_data import erasure_view
from chat_server.principal import Principal, Role
from chat_server.storage.accounts import Account, AccountStore
from moderation.audit import AuditAction


class AccountService:
    def __init__(self, *, accounts: AccountStore, auditor: Auditor) -> None:
        self._accounts = accounts
        self._audit = auditor

    async def profile(self, who: Principal) -> dict[str, object]:
        account = await self._require(who.account_id)
        profile: dict[str, object] = {
            **account.public_profile(),
            "email": account.email,
            "totp_enabled": account.totp_enabled,
            "root_key": account.root_key,
            # A pending GDPR erasure, so every page can offer to cancel it.
            "erasure": erasure_view(account),
        }
        if account.role is Role.PRACTITIONER:
            # Only the owner sees it here; patients see the away message on threads.
            profile["availability"] = {
                "accepting_requests": account.accepting_requests,
                "away_message": account.away_message,
            }
        return profile

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

    @staticmethod
    def _require_admin(who: Principal) -> None:
        if who.role is not Role.ADMIN:
            raise Forbidden("platform admins only")

    async def _require(self, account_id: str) -> Account:
        account = await self._accounts.get(account_id)
        if account is None:
            raise Unauthenticated()
        return account
