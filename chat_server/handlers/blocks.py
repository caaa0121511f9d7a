"""Blocks between accounts: a patient or practitioner blocks another account.

Once either has blocked the other, the two are *separated*: neither can request a care
thread with the other or send into a thread they share, and neither sees the other's
typing or away message. The blocker undoes it; the blocked party cannot. Blocks are
per account, not per thread, so a new thread does not get round one.

Whether two accounts are separated is asked on every send, so each process keeps
every account's blocks in memory: a change made here applies at once; made on another
process, within ``TTL_SECONDS``, because every ``TTL_SECONDS`` the process asks the
store's change count and drops what it kept when the count moved. One query per
process every few seconds, instead of one per account (a thousand accounts' blocks
reloaded every 5 s were a fifth of the server's CPU per message in the benchmark).
Entries still expire after ``KEEP_SECONDS``, in case a change was written but its count
was not.
"""

from __future__ import annotations

from typing import Final

from chat_server.cache import CountedCache
from chat_server.clock import Clock
from chat_server.errors import CannotBlockSelf, NotFound
from chat_server.principal import Principal
from chat_server.storage.accounts import AccountStore
from chat_server.storage.blocks import BlockStore

TTL_SECONDS: Final = 5.0
KEEP_SECONDS: Final = 600.0


class Blocks:
    def __init__(self, blocks: BlockStore, accounts: AccountStore, clock: Clock) -> None:
        self._blocks = blocks
        self._accounts = accounts
        self._clock = clock
        self._involving = CountedCache[str, frozenset[str]](
            blocks.involving,
            count=blocks.version,
            poll=TTL_SECONDS,
            keep_for=KEEP_SECONDS,
            max_entries=100_000,
            now=clock.monotonic,
        )

    async def block(self, who: Principal, account_id: str) -> None:
        if account_id == who.account_id:
            raise CannotBlockSelf()
        if await self._accounts.get(account_id) is None:
            raise NotFound()
        await self._blocks.block(who.account_id, account_id, self._clock.now())
        self._forget(who.account_id, account_id)

    async def unblock(self, who: Principal, account_id: str) -> None:
        # Only the blocker's own block goes: the same 404 when there is none.
        if not await self._blocks.unblock(who.account_id, account_id):
            raise NotFound()
        self._forget(who.account_id, account_id)

    async def mine(self, who: Principal) -> list[dict[str, str]]:
        return [
            {"account_id": blocked, "since": at.isoformat()}
            for blocked, at in await self._blocks.by(who.account_id)
        ]

    async def separated(self, a: str, b: str) -> bool:
        """True when either account has blocked the other."""
        return b in await self._involving.get(a)

    async def separated_from(self, who: str, others: list[str]) -> set[str]:
        """Which of ``others`` are separated from ``who``."""
        involving = await self._involving.get(who)
        return {other for other in others if other in involving}

    def _forget(self, a: str, b: str) -> None:
        self._involving.forget(a)
        self._involving.forget(b)
