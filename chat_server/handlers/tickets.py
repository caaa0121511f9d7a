"""WebSocket tickets: short-lived, single-use tokens an authenticated HTTP session
exchanges for a socket (``hello``), optionally bound to one of the account's devices.
A ticket is honoured only while its account is active, its session live and its
device unrevoked."""

from __future__ import annotations

from datetime import datetime, timedelta

from chat_server.clock import Clock
from chat_server.errors import InvalidTicket, NotFound
from chat_server.principal import AccountStatus, Principal
from chat_server.storage.accounts import AccountStore
from chat_server.storage.devices import DeviceStore
from chat_server.storage.sessions import SessionStore, Ticket, TicketStore
from chat_server.tokens import new_token, well_formed


class TicketService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        sessions: SessionStore,
        tickets: TicketStore,
        devices: DeviceStore,
        clock: Clock,
        ttl: timedelta,
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._tickets = tickets
        self._devices = devices
        self._clock = clock
        self._ttl = ttl

    async def issue_ticket(self, who: Principal, device_id: str | None) -> tuple[str, datetime]:
        if device_id is not None:
            device = await self._devices.get(device_id)
            if device is None or device.account_id != who.account_id or device.revoked_at:
                raise NotFound("no such device")
        token = new_token()
        expires = self._clock.now() + self._ttl
        await self._tickets.issue(token, Ticket(who.account_id, who.session_id, device_id, expires))
        return token, expires

    async def redeem_ticket(self, token: str) -> Principal:
        """Single use: the ticket is deleted by the same operation that reads it."""
        now = self._clock.now()
        ticket = await self._tickets.redeem(token, now) if well_formed(token) else None
        if ticket is None:
            raise InvalidTicket()
        account = await self._accounts.get(ticket.account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise InvalidTicket()
        if not await self._sessions.is_live(ticket.session_id, now):
            raise InvalidTicket()
        if ticket.device_id is not None:
            device = await self._devices.get(ticket.device_id)
            if device is None or device.revoked_at is not None:
                raise InvalidTicket()
        return Principal(account.id, account.role, ticket.session_id, ticket.device_id)
