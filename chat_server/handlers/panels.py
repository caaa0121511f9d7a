"""Panels: set-up, membership by signed epochs, presence, and what the panel sees.

A panel is a group whose admin's client signs every membership change as a new epoch
(``handlers/groups.py`` verifies and stores it). Through the panel, a commit is
admitted only if every member account is a practitioner whose registration is
verified; once stored, every GP it dropped loses the panel at once: the questions
they held go back to their original place in the queue, they are marked offline,
and their sockets are told (a ``queue`` event naming them as removed). Questions
asked after that are wrapped to the new epoch's key, which they never receive.

Presence is the console's heartbeat: a GP is online on a panel for
``presence_seconds`` after their last ``PUT .../presence``; only online GPs claim, are
handed questions, and count in the wait estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chat_server.clock import Clock
from chat_server.errors import (
    GroupIdTaken,
    PanelIdTaken,
    PractitionersOnly,
    RegistrationNotVerified,
)
from chat_server.handlers.groups import GroupService
from chat_server.handlers.panel_access import PanelGate
from chat_server.model.queue import PanelSettings, QueueItem, Throughput
from chat_server.principal import Principal, Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.groups import StoredEpoch
from chat_server.storage.panel_queue import QueueStore
from chat_server.storage.panels import Panel, PanelExists, PanelStore
from e2e_crypto.groups_public import EpochCommit

# Answers per hour are measured over this window.
THROUGHPUT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PanelStats:
    panel_id: str
    queued: int
    oldest_wait: timedelta | None
    recent: Throughput
    gps_online: int
    rating_average: float | None
    rating_count: int


@dataclass(frozen=True, slots=True)
class PanelQueueView:
    queued: list[QueueItem]
    mine: list[QueueItem]


class PanelService:
    def __init__(
        self,
        *,
        gate: PanelGate,
        panels: PanelStore,
        queue: QueueStore,
        groups: GroupService,
        accounts: AccountStore,
        clock: Clock,
        defaults: PanelSettings,
        presence: timedelta,
    ) -> None:
        self._gate = gate
        self._panels = panels
        self._queue = queue
        self._groups = groups
        self._accounts = accounts
        self._clock = clock
        self._defaults = defaults
        self._presence = presence

    async def create(
        self, who: Principal, panel_id: str, name: str, settings: dict[str, Any]
    ) -> Panel:
        if who.role not in (Role.PRACTITIONER, Role.ADMIN):
            raise PractitionersOnly()
        try:
            group = await self._groups.create_group(who, panel_id, purpose="panel")
        except GroupIdTaken:
            raise PanelIdTaken() from None
        panel = Panel(
            group.id, name, who.account_id, replace(self._defaults, **settings), group.created_at
        )
        try:
            await self._panels.create(panel)
        except PanelExists:
            raise PanelIdTaken() from None
        return panel

    async def all(self) -> list[Panel]:
        return await self._panels.all()

    async def get(self, panel_id: str) -> Panel:
        return await self._gate.panel(panel_id)

    async def epoch(self, panel_id: str, epoch: int | None) -> StoredEpoch:
        """A panel's signed commits are public: patients encrypt to the current one
        after verifying the chain against the admin's root key."""
        await self._gate.panel(panel_id)
        stored = await self._groups.public_epoch(panel_id, epoch)
        return stored

    async def commit_epoch(self, who: Principal, panel_id: str, commit_b64: str) -> StoredEpoch:
        await self._gate.admin(who, panel_id)
        before = set(await self._gate.members(panel_id))
        stored = await self._groups.commit_epoch(who, panel_id, commit_b64, admit=self._admit)
        removed = sorted(before - set(stored.members))
        for gp_id in removed:
            await self._queue.release_all(panel_id, gp_id, actor=who.account_id)
        if removed:
            await self._panels.set_offline(panel_id, removed)
        await self._gate.announce(panel_id, removed=removed)
        return stored

    async def _admit(self, commit: EpochCommit) -> None:
        for account_id in dict.fromkeys(m.account_id for m in commit.members):
            account = await self._accounts.get(account_id)
            if (
                account is None
                or account.role is not Role.PRACTITIONER
                or account.registration is None
                or not account.registration.verified
            ):
                raise RegistrationNotVerified(
                    "every panel member must be a practitioner with a verified registration"
                )

    async def update_settings(
        self,
        who: Principal,
        panel_id: str,
        changes: dict[str, Any],
        overrides: dict[str, int | None],
    ) -> Panel:
        panel = await self._gate.admin(who, panel_id)
        capacity = dict(panel.settings.capacity_overrides)
        for gp_id, value in overrides.items():
            if value is None:
                capacity.pop(gp_id, None)
            else:
                capacity[gp_id] = value
        settings = replace(panel.settings, **changes, capacity_overrides=capacity)
        updated = await self._panels.set_settings(panel_id, settings)
        assert updated is not None  # panels are never deleted
        return updated

    async def set_presence(self, who: Principal, panel_id: str, *, online: bool) -> datetime | None:
        await self._gate.member(who, panel_id)
        if not online:
            await self._panels.set_offline(panel_id, [who.account_id])
            await self._gate.announce(panel_id)
            return None
        now = self._clock.now()
        until = now + self._presence
        # The console renews this every few seconds: only a GP coming online is news.
        if await self._panels.set_online(panel_id, who.account_id, until, now):
            await self._gate.announce(panel_id)
        return until

    async def stats(self, who: Principal, panel_id: str) -> PanelStats:
        await self._gate.member(who, panel_id)
        return await self.stats_of(panel_id)

    async def stats_of(self, panel_id: str) -> PanelStats:
        now = self._clock.now()
        queue = await self._queue.stats(panel_id, now, THROUGHPUT_WINDOW)
        average, count = await self._queue.rating_summary(panel_id)
        return PanelStats(
            panel_id=panel_id,
            queued=queue.queued,
            oldest_wait=None if queue.oldest_queued_at is None else now - queue.oldest_queued_at,
            recent=queue.recent,
            gps_online=len(await self._panels.online(panel_id, now)),
            rating_average=average,
            rating_count=count,
        )

    async def queue(self, who: Principal, panel_id: str) -> PanelQueueView:
        """The live queue for an online GP (offline GPs are offered nothing): waiting
        questions, the ones handed to them first, and the ones they hold."""
        await self._gate.member(who, panel_id)
        if not await self._panels.is_online(panel_id, who.account_id, self._clock.now()):
            return PanelQueueView([], await self._queue.held_by(panel_id, who.account_id))
        queued = await self._queue.queue(panel_id)
        now = self._clock.now()
        visible = [
            q
            for q in queued
            if q.offered_to in (None, who.account_id)
            or (q.offered_until is not None and q.offered_until <= now)
        ]
        visible.sort(key=lambda q: q.offered_to != who.account_id)  # stable: mine first
        return PanelQueueView(visible, await self._queue.held_by(panel_id, who.account_id))
