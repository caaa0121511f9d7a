"""The panel gate: panels, their current epoch, members, questions, and the news.

Who is on a panel is the latest signed epoch of its group, never a separate list: a
GP removed by a new epoch stops being a member at once, everywhere. A question is
visible to its patient and to the panel's current members (the epoch key they hold
opens it); anyone else, a removed GP included, gets the same ``NotFound`` as for a
question that does not exist.

Every change to a panel's queue is announced with a ``queue`` event (ids only) to the
panel's current members and to the patients waiting in it; each socket's sink then
reads the view its account may see (ws/panels.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chat_server.errors import NotFound
from chat_server.events import Deliver
from chat_server.model.queue import QueueItem
from chat_server.principal import Principal, Role
from chat_server.storage.accounts import Account
from chat_server.storage.groups import GroupStore
from chat_server.storage.panel_queue import QueueStore
from chat_server.storage.panels import Panel, PanelStore
from e2e_crypto.groups_public import EpochCommit, parse_epoch_commit


@dataclass(frozen=True, slots=True)
class MemberView:
    panel: Panel
    epoch: EpochCommit


@dataclass(frozen=True, slots=True)
class QuestionView:
    item: QueueItem
    panel: Panel
    epoch: EpochCommit | None
    as_patient: bool


class PanelGate:
    def __init__(
        self, *, panels: PanelStore, groups: GroupStore, queue: QueueStore, deliver: Deliver
    ) -> None:
        self._panels = panels
        self._groups = groups
        self._queue = queue
        self._deliver = deliver

    async def panel(self, panel_id: str) -> Panel:
        """Panels are public services: any signed-in account may see one."""
        panel = await self._panels.get(panel_id)
        if panel is None:
            raise NotFound()
        return panel

    async def current_epoch(self, panel_id: str) -> EpochCommit | None:
        stored = await self._groups.latest(panel_id)
        return parse_epoch_commit(stored.commit) if stored else None

    async def members(self, panel_id: str) -> list[str]:
        stored = await self._groups.latest(panel_id)
        return list(stored.members) if stored else []

    async def member(self, who: Principal, panel_id: str) -> MemberView:
        """The panel for one of its current GPs (or its admin); NotFound otherwise."""
        panel = await self.panel(panel_id)
        epoch = await self.current_epoch(panel_id)
        if epoch is None or who.account_id not in {m.account_id for m in epoch.members}:
            raise NotFound()
        return MemberView(panel, epoch)

    async def admin(self, who: Principal, panel_id: str) -> Panel:
        panel = await self.panel(panel_id)
        if panel.admin_account != who.account_id:
            raise NotFound()
        return panel

    async def question(self, who: Principal, question_id: str) -> QuestionView:
        item = await self._queue.get(question_id)
        if item is None:
            raise NotFound()
        panel = await self.panel(item.panel_id)
        epoch = await self.current_epoch(item.panel_id)
        if item.patient_id == who.account_id:
            return QuestionView(item, panel, epoch, as_patient=True)
        if epoch is not None and who.account_id in {m.account_id for m in epoch.members}:
            return QuestionView(item, panel, epoch, as_patient=False)
        raise NotFound()

    async def peers(self, who: str, other: Account) -> bool:
        """Whether ``who`` may read ``other``'s keys through a panel: a patient and the
        GPs currently on a panel she asked (the GP seals to her devices, she verifies
        his signatures), colleagues on a panel (one reads what the other wrote in a
        question they took over), and a panel's admin looking up a practitioner to
        add; and anyone, a panel's admin (whose root key signs its epochs)."""
        for patient, gp in ((other.id, who), (who, other.id)):
            for panel_id in await self._queue.panels_asked(patient):
                if gp in await self.members(panel_id):
                    return True
        for panel in await self._panels.all():
            if panel.admin_account == who and other.role is Role.PRACTITIONER:
                return True
            if panel.admin_account == other.id:
                return True  # anyone verifies a panel's commits against its admin's key
            members = await self.members(panel.id)
            if who in members and other.id in members:
                return True
        return False

    async def announce(
        self, panel_id: str, also: Iterable[str] = (), removed: Iterable[str] = ()
    ) -> None:
        """Tell the panel's members and waiting patients (and ``also``) to refresh."""
        accounts = {*await self.members(panel_id), *await self._queue.queued_patients(panel_id)}
        accounts |= {a for a in also if a} | set(removed)
        gone = sorted(set(removed))
        if gone:
            await self._deliver(
                sorted(accounts), {"t": "queue", "panel": panel_id, "removed": gone}
            )
        else:
            await self._deliver(sorted(accounts), {"t": "queue", "panel": panel_id})
