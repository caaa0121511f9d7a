"""Care threads: who may open, write to, read and change a thread, and message intake.

A patient requests a thread with a practitioner or practice they have an active care
link with; the provider accepts, declines or blocks it; either side closes it. In the
``requested`` state only the patient writes, at most ``REQUEST_MESSAGES`` messages.

Every send is checked before it is stored: the thread admits the sender, the
envelope parses, its signed header names this thread, this client message id and the
sending device, its recipients are exactly the participants' active devices, and the
sender device's signature verifies. The server cannot read the message; it can refuse
one that is misaddressed or forged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from chat_server.cache import ExpiringCache
from chat_server.clock import Clock
from chat_server.errors import (
    DeviceRequired,
    DeviceRevoked,
    DuplicateClientMsgId,
    Forbidden,
    InvalidEnvelope,
    NotAcceptingRequests,
    NotFound,
    RateLimited,
    RecipientsChanged,
    RequestCooldown,
    ThreadAlreadyOpen,
    ThreadClosed,
    ThreadIdTaken,
    ThreadTransitionNotAllowed,
    UnknownAttachment,
)
from chat_server.events import Event
from chat_server.handlers.care import CareService
from chat_server.handlers.directory import DeviceDirectory
from chat_server.handlers.openings import check_opening
from chat_server.handlers.throttle import Throttle
from chat_server.model.machines import ForbiddenTransition
from chat_server.model.threads import CARE_THREAD, LIVE_CARE_STATES, CareEvent, Thread, ThreadState
from chat_server.principal import Principal, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.attachments import AttachmentStore
from chat_server.storage.messages import DuplicateMismatch, MessageStore, NewMessage, StoredMessage
from chat_server.storage.practices import Practice, PracticeStore, ProviderKind
from chat_server.storage.threads import CursorBuffer, ThreadExists, ThreadStore
from chat_server.tokens import new_id
from e2e_crypto.errors import CryptoError
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.wire import Kind, from_base64url, parse_envelope, verify_envelope_signature
from moderation.ratelimit import RateLimit

REQUEST_MESSAGES = 5
THREAD_REQUESTS = RateLimit("thread-requests", limit=10, window_seconds=3600)
# A client says "typing" every few seconds while someone types: a burst of 5, then one
# every 2 s. More is noise for every participant's devices, dropped without a word.
TYPING_PER_DEVICE = RateLimit("typing-device", limit=5, window_seconds=10)
SYNC_PAGE = 200
OPEN_THREAD_SECONDS = 30.0
OPEN_THREAD_CACHE = 20_000

Deliver = Callable[[list[str], Event], Awaitable[None]]
AfterStore = Callable[[Thread, StoredMessage], Awaitable[None]]


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


class ThreadService:
    def __init__(
        self,
        *,
        threads: ThreadStore,
        messages: MessageStore,
        accounts: AccountStore,
        practices: PracticeStore,
        directory: DeviceDirectory,
        care: CareService,
        clock: Clock,
        throttle: Throttle,
        deliver: Deliver,
        after_store: AfterStore,
        rerequest_after: timedelta,
        cursors: CursorBuffer,
        attachments: AttachmentStore,
        send_limits: tuple[int, int] = (60, 600),
    ) -> None:
        self._threads = threads
        self._attachments = attachments
        self._cursors = cursors
        self._open_threads = ExpiringCache[str, Thread | None](
            threads.get,
            ttl=OPEN_THREAD_SECONDS,
            max_entries=OPEN_THREAD_CACHE,
            now=clock.monotonic,
            keep=lambda thread: thread is not None and thread.state is ThreadState.OPEN,
        )
        self._messages = messages
        self._accounts = accounts
        self._practices = practices
        self._directory = directory
        self._care = care
        self._clock = clock
        self._throttle = throttle
        self._deliver = deliver
        self._after_store = after_store
        self._rerequest_after = rerequest_after
        self._send_per_device = RateLimit("send-device", limit=send_limits[0], window_seconds=10)
        self._send_per_account = RateLimit("send-account", limit=send_limits[1], window_seconds=60)

    # -- the gate -----------------------------------------------------------------------

    async def access(self, who: Principal, thread_id: str) -> Thread:
        """The thread if ``who`` takes part in it; NotFound otherwise (or if missing)."""
        thread = await self._threads.get(thread_id)
        if thread is None or who.account_id not in thread.participants:
            raise NotFound()
        return thread

    async def access_open(self, who: Principal, thread_id: str) -> Thread:
        """``access`` for the frames a live conversation sends many times a second
        (send, delivered, typing). An open thread may come from a short cache:
        participants change only when its practice publishes a membership list, and
        that, like any state change, drops the entry at once here and, through its
        ``thread`` event, on every process holding a participant's socket
        (``forget``); otherwise the state is at most ``OPEN_THREAD_SECONDS`` old.
        Other states are always read afresh: a request counts its messages on
        ``last_seq``.
        """
        thread = await self._open_threads.get(thread_id)
        if thread is None or who.account_id not in thread.participants:
            raise NotFound()
        return thread

    def forget(self, thread_id: str) -> None:
        self._open_threads.forget(thread_id)

    # -- lifecycle ----------------------------------------------------------------------

    async def request(
        self, who: Principal, kind: ProviderKind, provider_id: str, opening: str | None = None
    ) -> Thread:
        """``opening``: the patient's signed thread opening (base64url), whose thread
        id the thread then gets; see chat_server/handlers/openings.py."""
        if who.role is not Role.PATIENT:
            raise Forbidden("patients open care threads")
        checked = (
            await check_opening(self._accounts, who, kind, provider_id, opening)
            if opening is not None
            else None
        )
        await self._throttle.check(THREAD_REQUESTS, who.account_id)
        if not await self._care.has_active_link(who.account_id, provider_id):
            # Same answer as for an unknown provider: no care link, no thread.
            raise NotFound("no active care relationship with this provider")
        roles = await self._provider_roles(kind, provider_id)
        if kind is ProviderKind.PRACTITIONER:
            provider = await self._accounts.get(provider_id)
            if provider is None or not provider.accepting_requests:
                raise NotAcceptingRequests("this practitioner is not accepting new requests")
        ended = await self._threads.last_ended_request(
            who.account_id, provider_id, [ThreadState.DECLINED, ThreadState.BLOCKED]
        )
        if ended is not None and self._clock.now() - ended.updated_at < self._rerequest_after:
            raise RequestCooldown("a recent request was declined; try again later")
        if await self._threads.live_between(who.account_id, provider_id) is not None:
            raise ThreadAlreadyOpen("a thread with this provider is already open")
        try:
            thread = await self._threads.create(
                checked.thread_id if checked else new_id(),
                patient_id=who.account_id,
                provider_kind=str(kind),
                provider_id=provider_id,
                participants=[who.account_id, *sorted(roles)],
                roles={who.account_id: "patient", **roles},
                now=self._clock.now(),
                opening=checked.raw if checked else None,
            )
        except ThreadExists:
            raise ThreadIdTaken() from None
        await self._announce(thread)
        return thread

    async def _provider_roles(self, kind: ProviderKind, provider_id: str) -> dict[str, str]:
        """Who answers for the provider, by role. For a practice: exactly the latest
        membership list its admin signed, so every participant consented and the
        patient's client can check each one against that list."""
        if kind is ProviderKind.PRACTITIONER:
            return {provider_id: "practitioner"}
        practice = await self._practices.get(provider_id)
        if practice is None:
            raise NotFound()
        return _provider_side(practice)

    async def membership_changed(self, practice: Practice) -> None:
        """A newly signed membership list is the provider side of the practice's live
        threads from now on: members who joined become participants, members who left
        stop being ones. Old and new participants are told; clients show the change."""
        roles = _provider_side(practice)
        for before, after in await self._threads.set_provider_members(
            practice.id, roles, self._clock.now()
        ):
            self.forget(after.id)
            told = sorted(set(before.participants) | set(after.participants))
            await self._deliver(told, {"t": "thread", "thread": after.id})

    async def accept(self, who: Principal, thread_id: str) -> Thread:
        return await self._provider_moves(who, thread_id, CareEvent.ACCEPT)

    async def decline(self, who: Principal, thread_id: str) -> Thread:
        return await self._provider_moves(who, thread_id, CareEvent.DECLINE)

    async def block(self, who: Principal, thread_id: str) -> Thread:
        return await self._provider_moves(who, thread_id, CareEvent.BLOCK)

    async def close(self, who: Principal, thread_id: str) -> Thread:
        thread = await self.access(who, thread_id)
        return await self._move(thread, CareEvent.CLOSE)

    async def _provider_moves(self, who: Principal, thread_id: str, event: CareEvent) -> Thread:
        thread = await self.access(who, thread_id)
        if who.account_id == thread.patient_id:
            raise Forbidden("the practitioner decides on a request")
        return await self._move(thread, event)

    async def _move(self, thread: Thread, event: CareEvent) -> Thread:
        # The model says whether the move exists; the conditional update, from every
        # state the move may start in, decides a race with someone acting at once.
        try:
            to = CARE_THREAD.transition(thread.state, event)
        except ForbiddenTransition:
            raise ThreadTransitionNotAllowed(f"the thread is {thread.state}") from None
        self.forget(thread.id)
        moved = await self._threads.transition(
            thread.id, CARE_THREAD.sources(event, to), to, self._clock.now()
        )
        if moved is None:
            raise ThreadTransitionNotAllowed(f"the thread is {thread.state}")
        await self._announce(moved)
        return moved

    async def _announce(self, thread: Thread) -> None:
        await self._deliver(list(thread.participants), {"t": "thread", "thread": thread.id})

    # -- reading ------------------------------------------------------------------------

    async def list_threads(self, who: Principal) -> list[ThreadSummary]:
        threads = await self._threads.for_account(who.account_id)
        marks = await self._threads.read_marks(who.account_id, [t.id for t in threads])
        return await self.summarise(
            threads, {t.id: max(0, t.last_seq - marks.get(t.id, 0)) for t in threads}
        )

    async def summarise(
        self, threads: list[Thread], unread: dict[str, int] | None = None
    ) -> list[ThreadSummary]:
        """Each thread with every participant named with its role: a patient sees
        everyone its messages are encrypted to, staff included."""
        ids = sorted({account for thread in threads for account in thread.participants})
        accounts = await self._accounts.many(ids)
        return [
            ThreadSummary(
                thread,
                (unread or {}).get(thread.id),
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
        thread = await self.access(who, thread_id)
        marks = await self._threads.read_marks(who.account_id, [thread.id])
        [summary] = await self.summarise(
            [thread], {thread.id: max(0, thread.last_seq - marks.get(thread.id, 0))}
        )
        if thread.provider_kind != ProviderKind.PRACTITIONER:
            return summary
        provider = await self._accounts.get(thread.provider_id)
        away = provider.away_message if provider else None
        return replace(summary, practitioner=True, away_message=away)

    async def history(
        self, who: Principal, thread_id: str, *, after: int | None, before: int | None, limit: int
    ) -> tuple[list[StoredMessage], int | None]:
        thread = await self.access(who, thread_id)
        if before is not None:
            page = await self._messages.before(thread.id, before, limit)
            return page, (page[-1].seq if len(page) == limit and page[-1].seq > 1 else None)
        page = await self._messages.after(thread.id, after or 0, limit)
        return page, (page[-1].seq if len(page) == limit else None)

    async def sync(self, who: Principal, cursors: dict[str, int]) -> SyncPage:
        """What this device missed, up to SYNC_PAGE messages, oldest thread first."""
        threads = await self._threads.for_account(who.account_id, limit=1000)
        stored = await self._cursors.device_cursors(_device_key(who), [t.id for t in threads])
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

    # -- writing ------------------------------------------------------------------------

    async def send(
        self,
        who: Principal,
        thread_id: str,
        client_msg_id: str,
        envelope_text: str,
        attachment_ids: Sequence[str] = (),
    ) -> StoredMessage:
        if who.device_id is None:
            raise DeviceRequired("sending needs a registered device (ticket with device_id)")
        thread = await self.access_open(who, thread_id)
        self._check_can_write(thread, who)
        await self._throttle.check(self._send_per_device, who.device_id)
        await self._throttle.check(self._send_per_account, who.account_id)
        try:
            envelope = from_base64url(envelope_text)
            parsed = parse_envelope(envelope)
        except CryptoError:
            raise InvalidEnvelope("the envelope does not parse") from None
        header = parsed.header
        if (
            header.thread_id != thread.id
            or header.client_msg_id != client_msg_id
            or header.sender_account != who.account_id
            or header.sender_device != who.device_id
            or header.group is not None
            or any(True for _ in header.epoch_recipients())
        ):
            raise InvalidEnvelope("the envelope header does not match this send")
        await self._check_recipients(thread, header.device_recipients())
        sender = await self._directory.device(who.account_id, who.device_id)
        if sender is None:
            raise DeviceRevoked("this device is revoked")
        try:
            verify_envelope_signature(parsed, PublicSigningKey(sender.sign_key_raw))
        except CryptoError:
            raise InvalidEnvelope("the envelope signature does not verify") from None
        # Claimed before the message is stored: a message never points at a file the
        # purge may still take. A send refused after this keeps its files claimed.
        if attachment_ids and not await self._attachments.claim(
            attachment_ids, thread_id=thread.id, uploader=who.account_id, now=self._clock.now()
        ):
            raise UnknownAttachment()
        try:
            stored = await self._messages.append(
                NewMessage(
                    thread_id=thread.id,
                    sender_account=who.account_id,
                    sender_device=who.device_id,
                    client_msg_id=client_msg_id,
                    kind="system" if header.kind is Kind.SYSTEM else "message",
                    envelope=envelope,
                    franking_commitment=header.franking_commitment,
                )
            )
        except DuplicateMismatch:
            raise DuplicateClientMsgId("this client_msg_id was used for another message") from None
        # Announced again on a resend too: the first attempt may have stored it and
        # never told anyone (its process killed between the two, its publication
        # lost), and recipients must not wait for their next sync to see it. Clients
        # drop a seq they already have.
        await self._deliver(
            list(thread.participants),
            # The sending device has its ack; echoing the message to it again would
            # only cost a frame (clients treat an echo as a duplicate).
            {"t": "msg", "thread": thread.id, "seq": stored.seq, "from": who.device_id},
        )
        if not stored.duplicate:
            await self._after_store(thread, stored)
        return stored

    def _check_can_write(self, thread: Thread, who: Principal) -> None:
        if thread.state is ThreadState.OPEN:
            return
        if thread.state is ThreadState.REQUESTED and who.account_id == thread.patient_id:
            if thread.last_seq >= REQUEST_MESSAGES:
                raise ThreadClosed("wait for the practitioner to accept the request")
            return
        if thread.state is ThreadState.REQUESTED:
            raise ThreadClosed("accept the request before replying")
        raise ThreadClosed(f"the thread is {thread.state}")

    async def _check_recipients(self, thread: Thread, recipients: Any) -> None:
        offered = {(r.account_id, r.device_id, r.encryption_key.raw) for r in recipients}
        current = await self._directory.devices_of(list(thread.participants))
        if offered != current:
            # Our cache may be behind a device change the client already saw.
            current = await self._directory.devices_of(list(thread.participants), fresh=True)
            if offered != current:
                raise RecipientsChanged(
                    "encrypt to exactly the participants' active devices",
                    devices=sorted({(a, d) for a, d, _ in current}),
                )

    async def delivered(self, who: Principal, thread_id: str, seq: int) -> None:
        await self.access_open(who, thread_id)
        self._cursors.note(who.account_id, _device_key(who), thread_id, seq)

    async def read(self, who: Principal, thread_id: str, seq: int) -> None:
        thread = await self.access(who, thread_id)
        seq = min(seq, thread.last_seq)
        await self._threads.mark_read(who.account_id, thread.id, seq)
        others = [p for p in thread.participants if p != who.account_id]
        await self._deliver(
            others, {"t": "receipt", "thread": thread.id, "account": who.account_id, "seq": seq}
        )

    async def typing(self, who: Principal, thread_id: str) -> bool:
        """Tells the other participants that ``who`` is typing. False when the device
        is over its typing budget: nothing was sent, and the frame gets no answer."""
        try:
            await self._throttle.check(TYPING_PER_DEVICE, _device_key(who))
        except RateLimited:
            return False
        thread = await self.access_open(who, thread_id)
        if thread.state in LIVE_CARE_STATES:
            others = [p for p in thread.participants if p != who.account_id]
            await self._deliver(
                others, {"t": "typing", "thread": thread.id, "account": who.account_id}
            )
        return True

    async def message(self, thread_id: str, seq: int) -> StoredMessage | None:
        """For the fan-out sink: a stored message by position (no access check; the
        sink only serves sockets of the thread's participants)."""
        return await self._messages.get(thread_id, seq)


def _provider_side(practice: Practice) -> dict[str, str]:
    """Who answers for a practice, by role: exactly its latest signed membership list.
    Members stored before lists were signed (or by any other way) are nobody's
    recipients until a signed list names them."""
    if practice.membership is None:
        return {}
    roles = dict.fromkeys(practice.staff, "staff")
    roles.update(dict.fromkeys(practice.practitioners, "practitioner"))
    return roles


def _device_key(who: Principal) -> str:
    # Cursors are per device; a socket without a device keeps one per session.
    return f"{who.account_id}:{who.device_id or 'session-' + who.session_id[:16]}"
