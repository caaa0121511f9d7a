"""Who sits on a panel, by name: what people choose colleagues and GPs from.

Membership itself is the panel's latest signed epoch (handlers/panels.py commits it);
here are the names people need around it. The panel's GPs and its admin read the
members' names and who is online (to hand a question over, to see who is on); a GP
lists the panels they sit on or run; and the admin finds a verified practitioner to
put in the next epoch by e-mail address. That look-up answers only the panel's admin,
within the key look-up budget, and the same ``NotFound`` for an unknown address, a
patient, an unverified or a suspended practitioner: it tells the admin nothing about
an address they could not add.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat_server.clock import Clock
from chat_server.errors import NotFound
from chat_server.handlers.panel_access import PanelGate
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.principal import AccountStatus, Principal, Role
from chat_server.storage.accounts import Account, AccountStore
from chat_server.storage.panels import Panel, PanelStore
from moderation.limits import Action


@dataclass(frozen=True, slots=True)
class PanelMember:
    account_id: str
    display_name: str
    online: bool


class PanelMembers:
    def __init__(
        self,
        *,
        gate: PanelGate,
        panels: PanelStore,
        accounts: AccountStore,
        clock: Clock,
        throttle: Throttle,
    ) -> None:
        self._gate = gate
        self._panels = panels
        self._accounts = accounts
        self._clock = clock
        self._throttle = throttle

    async def members(self, who: Principal, panel_id: str) -> list[PanelMember]:
        """The current epoch's GPs by name, for those GPs and the panel's admin."""
        panel = await self._gate.panel(panel_id)
        ids = list(dict.fromkeys(await self._gate.members(panel_id)))
        if who.account_id not in ids and who.account_id != panel.admin_account:
            raise NotFound()
        online = set(await self._panels.online(panel_id, self._clock.now()))
        members = []
        for account_id in ids:
            account = await self._accounts.get(account_id)
            name = account.display_name if account is not None else ""
            members.append(PanelMember(account_id, name, account_id in online))
        return members

    async def mine(self, who: Principal) -> list[Panel]:
        """The panels ``who`` administers or sits on (in its current epoch)."""
        return [
            panel
            for panel in await self._panels.all()
            if panel.admin_account == who.account_id
            or who.account_id in await self._gate.members(panel.id)
        ]

    async def find_practitioner(self, who: Principal, panel_id: str, email: str) -> PanelMember:
        """The verified, active practitioner using ``email``, for the panel's admin."""
        await self._gate.admin(who, panel_id)
        await self._throttle.action(Action.KEY_LOOKUP, subject_of(who))
        account = await self._accounts.by_email(email.strip().lower())
        if account is None or not _may_join(account):
            raise NotFound()
        online = await self._panels.is_online(panel_id, account.id, self._clock.now())
        return PanelMember(account.id, account.display_name, online)


def _may_join(account: Account) -> bool:
    # What PanelService admits into an epoch, and not suspended.
    return (
        account.role is Role.PRACTITIONER
        and account.registration is not None
        and account.registration.verified
        and account.status is AccountStatus.ACTIVE
    )
