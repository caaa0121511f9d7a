"""How an account wants to hear that a secure message is waiting: by e-mail, by text
message, both or neither (``handlers/notifications.py`` reads them before it sends).
The notification itself never says more than "a message is waiting"; these only turn
a channel off."""

from __future__ import annotations

from dataclasses import dataclass

from chat_server.errors import NotFound
from chat_server.principal import Principal
from chat_server.storage.accounts import AccountStore


@dataclass(frozen=True, slots=True)
class Preferences:
    email: bool
    sms: bool

    def to_dict(self) -> dict[str, bool]:
        return {"email": self.email, "sms": self.sms}


class NotificationPreferences:
    def __init__(self, accounts: AccountStore) -> None:
        self._accounts = accounts

    async def get(self, who: Principal) -> Preferences:
        account = await self._accounts.get(who.account_id)
        if account is None:
            raise NotFound()
        return Preferences(email=account.notify_email, sms=account.notify_sms)

    async def set(self, who: Principal, preferences: Preferences) -> Preferences:
        account = await self._accounts.set_fields(
            who.account_id, notify={"email": preferences.email, "sms": preferences.sms}
        )
        if account is None:
            raise NotFound()
        return Preferences(email=account.notify_email, sms=account.notify_sms)
