"""Access gates: the only way handlers obtain an object on behalf of a principal.

One function per object type. Each returns the object or raises :class:`NotFound` —
the same error whether the object does not exist or exists but is not the caller's,
so ids cannot be probed.
"""

from __future__ import annotations

from chat_server.errors import NotFound
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import Account, AccountStore
from chat_server.storage.practices import (
    CareLink,
    CareLinkStore,
    LinkStatus,
    Practice,
    PracticeStore,
)


class AccessGate:
    def __init__(
        self, accounts: AccountStore, practices: PracticeStore, links: CareLinkStore
    ) -> None:
        self._accounts = accounts
        self._practices = practices
        self._links = links

    async def provider_ids(self, who: Principal) -> list[str]:
        """The provider identities an account acts as: itself and its practices."""
        return [who.account_id, *(p.id for p in await self._practices.of_member(who.account_id))]

    async def practice(self, who: Principal, practice_id: str, *, admin: bool = False) -> Practice:
        practice = await self._practices.get(practice_id)
        if practice is None:
            raise NotFound()
        allowed = practice.admins if admin else practice.members()
        if who.account_id not in allowed and who.role is not Role.ADMIN:
            raise NotFound()
        return practice

    async def practice_view(self, who: Principal, practice_id: str) -> Practice:
        """A practice as its public view and membership list: for its members, the
        accounts it invited, and patients with an active link to it (they must see
        everyone their messages to it are encrypted to)."""
        practice = await self._practices.get(practice_id)
        if practice is None:
            raise NotFound()
        if (
            who.account_id in practice.members()
            or who.account_id in practice.invitations
            or who.role is Role.ADMIN
        ):
            return practice
        link = await self._links.live_between(who.account_id, practice_id)
        if link is not None and link.status is LinkStatus.ACTIVE:
            return practice
        raise NotFound()

    async def care_link(self, who: Principal, link_id: str) -> CareLink:
        link = await self._links.get(link_id)
        if link is None:
            raise NotFound()
        if link.patient_id == who.account_id or link.provider_id in await self.provider_ids(who):
            return link
        raise NotFound()

    async def directory_entry(self, who: Principal, account_id: str) -> Account:
        """An account whose keys ``who`` may read: itself, its care peers (directly or
        through a practice), its practice colleagues; platform admins see all."""
        account = await self._accounts.get(account_id)
        if account is None or account.status is AccountStatus.SUSPENDED:
            raise NotFound()
        if account_id == who.account_id or who.role is Role.ADMIN:
            return account
        if account_id in await self.peers(who):
            return account
        raise NotFound()

    async def peers(self, who: Principal) -> set[str]:
        """Accounts ``who`` may address: care-link peers and practice colleagues."""
        mine = await self._practices.of_member(who.account_id)
        provider_ids = [who.account_id, *(p.id for p in mine)]
        linked = await self._links.active_peers(who.account_id, provider_ids)
        peers: set[str] = set()
        for practice in mine:
            peers |= practice.members()
        # A link to a practice reaches everyone working there.
        linked_practices = [pid for pid in linked if pid not in peers]
        for practice_id in linked_practices:
            linked_practice = await self._practices.get(practice_id)
            if linked_practice is not None:
                peers |= linked_practice.members()
        peers |= linked
        peers.discard(who.account_id)
        return peers
