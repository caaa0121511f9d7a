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
        found = await self._accounts.notify_preferences(who.account_id)
        if found is None:
            raise NotFound()
        return Preferences(email=found[0], sms=found[1])

    async def set(self, who: Principal, preferences: Preferences) -> Preferences:
        stored = await self._accounts.set_notify_preferences(
            who.account_id, email=preferences.email, sms=preferences.sms
        )
        if not stored:
            raise NotFound()
        return preferences
