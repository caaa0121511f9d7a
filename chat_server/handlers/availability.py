"""A practitioner's availability: whether they take new care requests, and the away
message their patients see on their threads (``handlers/sync.py: summary``)."""

from __future__ import annotations

from chat_server.principal import Principal
from chat_server.storage.accounts import AccountStore


class Availability:
    def __init__(self, accounts: AccountStore) -> None:
        self._accounts = accounts

    async def set(
        self, who: Principal, *, accepting_requests: bool, away_message: str | None
    ) -> None:
        await self._accounts.set_fields(
            who.account_id, accepting_requests=accepting_requests, away_message=away_message
        )
