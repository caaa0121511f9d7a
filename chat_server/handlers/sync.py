"""Reading threads: the thread list and summaries, a thread's history, and sync.

A summary names every participant with its role, so a patient sees everyone its
messages are encrypted to, staff included. ``sync`` is what a reconnecting device
missed: everything after its cursors (the ones it sends, else the ones stored for
it), up to ``SYNC_PAGE`` messages, oldest thread first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from chat_server.handlers.access import ThreadGate
from chat_server.handlers.blocks import Blocks
from chat_server.model.threads import Thread
from chat_server.principal import Principal
from chat_server.storage.accounts import AccountStore
from chat_server.storage.messages import MessageStore, StoredMessage
from chat_server.storage.practices import ProviderKind
from chat_server.storage.threads import CursorBuffer, ThreadStore

SYNC_PAGE = 200


@dataclass(frozen=True, slots=True)
class Member:
    """A participant as the others see it: who they are and in what role."""

    account_id: str
    display_name: str | None
    role: str


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """A thread as one participant sees it (chat_server/presenters.py shapes it)."""

    thread: Thread
    unread: int | None
    members: tuple[Member, ...] = ()
    # Set for a practitioner's threads: whether (and why) the practitioner is away.
    practitioner: bool = False
    away_message: str | None = None


@dataclass(frozen=True, slots=True)
class SyncPage:
    messages: list[StoredMessage]
    last_seqs: dict[str, int]
    more: bool


class ThreadSync:
    def __init__(
        self,
        *,
        gate: ThreadGate,
        threads: ThreadStore,
        messages: MessageStore,
        accounts: AccountStore,
        cursors: CursorBuffer,
        blocks: Blocks,
    ) -> None:
        self._gate = gate
        self._threads = threads
        self._messages = messages
        self._accounts = accounts
        self._cursors = cursors
        self._blocks = blocks

    async def list_threads(self, who: Principal) -> list[ThreadSummary]:
        threads = await self._threads.for_account(who.account_id)
        marks = await self._threads.read_marks(who.account_id, [t.id for t in threads])
        return await self.summarise(threads, marks)

    async def summarise(
        self, threads: list[Thread], marks: Mapping[str, int] | None = None
    ) -> list[ThreadSummary]:
        """Each thread at its exact position, with every participant named with its
        role (a patient sees everyone its messages are encrypted to, staff included)
        and, given the reader's read ``marks``, its unread count."""
        threads = await self.positioned(threads)
        ids = sorted({account for thread in threads for account in thread.participants})
        accounts = await self._accounts.many(ids)
        return [
            ThreadSummary(
                thread,
                None if marks is None else max(0, thread.last_seq - marks.get(thread.id, 0)),
                members=tuple(
                    Member(
                        account_id,
                        accounts[account_id].display_name if account_id in accounts else None,
                        thread.role_of(account_id),
                    )
                    for account_id in thread.participants
                ),
            )
            for thread in threads
        ]

    async def summary(self, who: Principal, thread_id: str) -> ThreadSummary:
        thread = await self._gate.thread(who, thread_id)
        marks = await self._threads.read_marks(who.account_id, [thread.id])
        [summary] = await self.summarise([thread], marks)
        if thread.provider_kind != ProviderKind.PRACTITIONER:
            return summary
        provider = await self._accounts.get(thread.provider_id)
        away = provider.away_message if provider else None
        # An away message is presence: not shown across a block.
        if await self._blocks.separated(who.account_id, thread.provider_id):
            away = None
        return replace(summary, practitioner=True, away_message=away)

    async def history(
        self, who: Principal, thread_id: str, *, after: int | None, before: int | None, limit: int
    ) -> tuple[list[StoredMessage], int | None]:
        thread = await self._gate.thread(who, thread_id)
        if before is not None:
            page = await self._messages.before(thread.id, before, limit)
            return page, (page[-1].seq if len(page) == limit and page[-1].seq > 1 else None)
        page = await self._messages.after(thread.id, after or 0, limit)
        return page, (page[-1].seq if len(page) == limit else None)

    async def sync(self, who: Principal, cursors: dict[str, int]) -> SyncPage:
        """What this device missed, up to SYNC_PAGE messages, oldest thread first."""
        threads = await self.positioned(await self._threads.for_account(who.account_id, limit=1000))
        stored = await self._cursors.device_cursors(device_key(who), [t.id for t in threads])
        messages: list[StoredMessage] = []
        last: dict[str, int] = {}
        more = False
        for thread in sorted(threads, key=lambda t: t.id):
            since = cursors.get(thread.id, stored.get(thread.id, 0))
            last[thread.id] = thread.last_seq
            if thread.last_seq <= since:
                continue
            room = SYNC_PAGE - len(messages)
            if room <= 0:
                more = True
                break
            page = await self._messages.after(thread.id, since, room)
            messages.extend(page)
            if page and page[-1].seq < thread.last_seq:
                more = True
        return SyncPage(messages, last, more)

    async def positioned(self, threads: list[Thread]) -> list[Thread]:
        """``threads`` with their exact ``last_seq`` and ``last_message_at``: a thread's
        stored counters may lag its acked messages (written after the ack,
        storage/messages.py), the messages' index never does."""
        positions = await self._messages.last_positions([t.id for t in threads])
        return [
            replace(thread, last_seq=position[0], last_message_at=position[1])
            if (position := positions.get(thread.id)) and position[0] > thread.last_seq
            else thread
            for thread in threads
        ]

    async def message(self, thread_id: str, seq: int) -> StoredMessage | None:
        """For the fan-out sink: a stored message by position (no access check; the
        sink only serves sockets of the thread's participants)."""
        return await self._messages.get(thread_id, seq)

    def recent_message(self, thread_id: str, seq: int) -> StoredMessage | None:
        """:meth:`message` if this process stored it lately, without awaiting; None:
        ask :meth:`message`."""
        return self._messages.recent(thread_id, seq)


def device_key(who: Principal) -> str:
    """Whose cursors these are. Cursors are per device; a socket without a device
    keeps one per session."""
    return f"{who.account_id}:{who.device_id or 'session-' + who.session_id[:16]}"
