"""The care lifecycle: who may open a care thread, and how it moves afterwards.

A patient requests a thread with a practitioner or practice they have an active care
link with; the provider accepts, declines or blocks it; either side closes it. A
practice's provider side is exactly its latest signed membership list, and follows
that list while the thread lives (``membership_changed``). Every change is announced
to the participants as a ``thread`` event; what may be written in each state is
message intake's business (``handlers/intake.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chat_server.clock import Clock
from chat_server.errors import (
    AccountBlocked,
    Forbidden,
    NotAcceptingRequests,
    NotFound,
    RequestCooldown,
    ThreadAlreadyOpen,
    ThreadIdTaken,
    ThreadTransitionNotAllowed,
)
from chat_server.events import Deliver
from chat_server.handlers.access import ThreadGate
from chat_server.handlers.blocks import Blocks
from chat_server.handlers.care import CareService
from chat_server.handlers.openings import check_opening
from chat_server.handlers.throttle import Throttle
from chat_server.model.machines import ForbiddenTransition
from chat_server.model.threads import CARE_THREAD, CareEvent, Thread, ThreadState
from chat_server.principal import Principal, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.practices import Practice, PracticeStore, ProviderKind
from chat_server.storage.threads import ThreadExists, ThreadStore
from chat_server.tokens import new_id
from moderation.ratelimit import RateLimit

THREAD_REQUESTS = RateLimit("thread-requests", limit=10, window_seconds=3600)


@dataclass(frozen=True, slots=True)
class Providers:
    """Where a request learns about its provider: whether the patient is in care with
    it (``care``), whether a practitioner takes requests (``accounts``) and who
    answers for a practice (``practices``)."""

    care: CareService
    accounts: AccountStore
    practices: PracticeStore


class CareThreads:
    def __init__(
        self,
        *,
        gate: ThreadGate,
        threads: ThreadStore,
        providers: Providers,
        clock: Clock,
        throttle: Throttle,
        deliver: Deliver,
        rerequest_after: timedelta,
        blocks: Blocks,
    ) -> None:
        self._gate = gate
        self._threads = threads
        self._providers = providers
        self._clock = clock
        self._throttle = throttle
        self._deliver = deliver
        self._rerequest_after = rerequest_after
        self._blocks = blocks

    async def request(
        self, who: Principal, kind: ProviderKind, provider_id: str, opening: str | None = None
    ) -> Thread:
        """``opening``: the patient's signed thread opening (base64url), whose thread
        id the thread then gets; see chat_server/handlers/openings.py."""
        if who.role is not Role.PATIENT:
            raise Forbidden("patients open care threads")
        checked = (
            await check_opening(self._providers.accounts, who, kind, provider_id, opening)
            if opening is not None
            else None
        )
        await self._throttle.check(THREAD_REQUESTS, who.account_id)
        if not await self._providers.care.has_active_link(who.account_id, provider_id):
            # Same answer as for an unknown provider: no care link, no thread.
            raise NotFound("no active care relationship with this provider")
        if await self._blocks.separated(who.account_id, provider_id):
            raise AccountBlocked()
        roles, epoch = await self._provider_roles(kind, provider_id)
        if kind is ProviderKind.PRACTITIONER:
            provider = await self._providers.accounts.get(provider_id)
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
                membership_epoch=epoch,
            )
        except ThreadExists:
            raise ThreadIdTaken() from None
        await self._announce(thread)
        if kind is ProviderKind.PRACTICE:
            # A list published between reading the practice and storing the thread
            # saw no thread to update: catch up with it now.
            practice = await self._providers.practices.get(provider_id)
            if practice is not None and practice.epoch > epoch:
                await self.membership_changed(practice)
                thread = await self._threads.get(thread.id) or thread
        return thread

    async def _provider_roles(
        self, kind: ProviderKind, provider_id: str
    ) -> tuple[dict[str, str], int]:
        """Who answers for the provider, by role, and the membership epoch that says
        so. For a practice: exactly the latest membership list its admin signed, so
        every participant consented and the patient's client can check each one
        against that list."""
        if kind is ProviderKind.PRACTITIONER:
            return {provider_id: "practitioner"}, 0
        practice = await self._providers.practices.get(provider_id)
        if practice is None:
            raise NotFound()
        return _provider_side(practice), practice.epoch

    async def membership_changed(self, practice: Practice) -> None:
        """A newly signed membership list is the provider side of the practice's live
        threads from now on: members who joined become participants, members who left
        stop being ones. Old and new participants are told; clients show the change."""
        roles = _provider_side(practice)
        for before, after in await self._threads.set_provider_members(
            practice.id, roles, practice.epoch, self._clock.now()
        ):
            self._gate.forget(after.id)
            told = sorted(set(before.participants) | set(after.participants))
            await self._deliver(told, {"t": "thread", "thread": after.id})

    async def accept(self, who: Principal, thread_id: str) -> Thread:
        return await self._provider_moves(who, thread_id, CareEvent.ACCEPT)

    async def decline(self, who: Principal, thread_id: str) -> Thread:
        return await self._provider_moves(who, thread_id, CareEvent.DECLINE)

    async def block(self, who: Principal, thread_id: str) -> Thread:
        return await self._provider_moves(who, thread_id, CareEvent.BLOCK)

    async def close(self, who: Principal, thread_id: str) -> Thread:
        thread = await self._gate.thread(who, thread_id)
        return await self._move(who, thread, CareEvent.CLOSE)

    async def _provider_moves(self, who: Principal, thread_id: str, event: CareEvent) -> Thread:
        thread = await self._gate.thread(who, thread_id)
        if who.account_id == thread.patient_id:
            raise Forbidden("the practitioner decides on a request")
        return await self._move(who, thread, event)

    async def _move(self, who: Principal, thread: Thread, event: CareEvent) -> Thread:
        # The model says whether the move exists; the conditional update, from every
        # state the move may start in, decides a race with someone acting at once.
        try:
            to = CARE_THREAD.transition(thread.state, event)
        except ForbiddenTransition:
            raise ThreadTransitionNotAllowed(f"the thread is {thread.state}") from None
        self._gate.forget(thread.id)
        moved = await self._threads.transition(
            thread.id,
            CARE_THREAD.sources(event, to),
            to,
            self._clock.now(),
            event=event,
            actor=who.account_id,
        )
        if moved is None:
            raise ThreadTransitionNotAllowed(f"the thread is {thread.state}")
        await self._announce(moved)
        return moved

    async def _announce(self, thread: Thread) -> None:
        await self._deliver(list(thread.participants), {"t": "thread", "thread": thread.id})


def _provider_side(practice: Practice) -> dict[str, str]:
    """Who answers for a practice, by role: exactly its latest signed membership list.
    Members stored before lists were signed (or by any other way) are nobody's
    recipients until a signed list names them."""
    if practice.membership is None:
        return {}
    roles = dict.fromkeys(practice.staff, "staff")
    roles.update(dict.fromkeys(practice.practitioners, "practitioner"))
    return roles
