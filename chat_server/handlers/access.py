"""Access gates: the only way handlers obtain an object on behalf of a principal.

One function per object type. Each returns the object or raises :class:`NotFound` —
the same error whether the object does not exist or exists but is not the caller's,
so ids cannot be probed.

:class:`AccessGate` guards practices, care links and directory entries;
:class:`ThreadGate` guards threads (and what belongs to one: attachments), with a
per-process cache of open threads for the frames a live conversation sends many
times a second. Groups keep their gate beside their epoch rules
(``GroupService._access``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chat_server.cache import CountedCache
from chat_server.clock import Clock
from chat_server.errors import NotFound
from chat_server.model.threads import Thread, ThreadState
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import Account, AccountStore
from chat_server.storage.attachments import AttachmentInfo, AttachmentStore
from chat_server.storage.practices import (
    CareLink,
    CareLinkStore,
    LinkStatus,
    Practice,
    PracticeStore,
)
from chat_server.storage.threads import ThreadStore

# How often a process asks the threads' change count, and how long an open thread is
# kept at most (in case a change was written and its count was not).
OPEN_THREAD_POLL_SECONDS = 5.0
OPEN_THREAD_KEEP_SECONDS = 600.0
OPEN_THREAD_CACHE = 20_000


# Whether two accounts meet through a GP panel (a question of one on a panel of the
# other, colleagues on a panel, a panel's admin and a practitioner): then the first
# may read the second's keys. Bound by app.py (handlers/panel_access.py).
PanelPeers = Callable[[str, Account], Awaitable[bool]]


async def _no_panel_peers(who: str, other: Account) -> bool:
    return False


class AccessGate:
    def __init__(
        self,
        accounts: AccountStore,
        practices: PracticeStore,
        links: CareLinkStore,
        panel_peers: PanelPeers = _no_panel_peers,
    ) -> None:
        self._accounts = accounts
        self._practices = practices
        self._links = links
        self.panel_peers = panel_peers

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
        if await self.panel_peers(who.account_id, account):
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


class ThreadGate:
    """Threads for their participants, and attachments for their thread's."""

    def __init__(self, threads: ThreadStore, attachments: AttachmentStore, clock: Clock) -> None:
        self._threads = threads
        self._attachments = attachments
        self._open_threads = CountedCache[str, Thread | None](
            threads.get,
            count=threads.version,
            poll=OPEN_THREAD_POLL_SECONDS,
            keep_for=OPEN_THREAD_KEEP_SECONDS,
            max_entries=OPEN_THREAD_CACHE,
            now=clock.monotonic,
            keep=lambda thread: thread is not None and thread.state is ThreadState.OPEN,
        )

    async def thread(self, who: Principal, thread_id: str) -> Thread:
        """The thread if ``who`` takes part in it; NotFound otherwise (or if missing)."""
        thread = await self._threads.get(thread_id)
        if thread is None or who.account_id not in thread.participants:
            raise NotFound()
        return thread

    async def open_thread(self, who: Principal, thread_id: str) -> Thread:
        """``thread`` for the frames a live conversation sends many times a second
        (send, delivered, typing). An open thread may come from a cache:
        participants change only when its practice publishes a membership list, and
        that, like any state change, drops the entry at once here and, through its
        ``thread`` event, on every process holding a participant's socket
        (``forget``); on any other process within ``OPEN_THREAD_POLL_SECONDS``,
        because every such change also moves the threads' change count. Other states
        are always read afresh (a request's messages are counted on the messages'
        index, ``MessageIntake._check_request_room``).
        """
        thread = await self._open_threads.get(thread_id)
        if thread is None or who.account_id not in thread.participants:
            raise NotFound()
        return thread

    def open_thread_at_once(self, who: Principal, thread_id: str) -> Thread | None:
        """:meth:`open_thread` without awaiting, when the cache can answer it now and
        ``who`` takes part: for the fan-out sinks, once per socket and message. None
        says nothing (not cached, the count due, or not ``who``'s): ask
        :meth:`open_thread`, which decides."""
        entry = self._open_threads.peek(thread_id)
        if entry is None or entry[1] is None or who.account_id not in entry[1].participants:
            return None
        return entry[1]

    def forget(self, thread_id: str) -> None:
        self._open_threads.forget(thread_id)

    async def attachment(self, who: Principal, attachment_id: str) -> AttachmentInfo:
        """An upload for the participants of its thread; NotFound for anyone else."""
        info = await self._attachments.info(attachment_id)
        if info is None:
            raise NotFound()
        await self.thread(who, info.thread_id)
        return info
