"""WebSocket tickets: short-lived, single-use tokens an authenticated HTTP session
exchanges for a socket (``hello``), optionally bound to one of the account's devices.
A ticket is honoured only while its account is active, its session live and its
device unrevoked. A device-bound ticket may come with a socket proof, the device's
signature over it (``e2e_crypto/socket_proof_public.py``): a holder of the session token
without the device key cannot make one.

A socket closed for flooding (``moderation/floods.py``) bars its session and device
for a while: no ticket is issued to them, and a ticket taken before is refused at
``hello``, each with :class:`SocketRateLimited` and the seconds left."""

from __future__ import annotations

from datetime import datetime, timedelta

from chat_server.clock import Clock
from chat_server.errors import InvalidSocketProof, InvalidTicket, NotFound, SocketRateLimited
from chat_server.principal import AccountStatus, Principal
from chat_server.storage.accounts import AccountStore
from chat_server.storage.devices import DeviceStore
from chat_server.storage.sessions import SessionStore, Ticket, TicketStore
from chat_server.tokens import new_token, token_hash, well_formed
from e2e_crypto.errors import CryptoError
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.socket_proof_public import verify_socket_proof
from e2e_crypto.wire import from_base64url
from moderation.floods import Bars, FloodPolicy


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
        flood: FloodPolicy | None = None,
        bars: Bars | None = None,
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._tickets = tickets
        self._devices = devices
        self._clock = clock
        self._ttl = ttl
        self.flood = flood or FloodPolicy()
        self._bars = bars if bars is not None else Bars(clock)

    def refuse_if_barred(self, session_token: str) -> None:
        """Before the session is even looked up: a barred flooder hammering the ticket
        route costs a hash and a dictionary look-up (a session's id is its token's
        hash), never a database round trip."""
        self._refuse_barred(token_hash(session_token))

    def bar(self, session_id: str | None, device_id: str | None, retry_after: float) -> float:
        """Bars a flooding socket's session and device; returns the seconds barred."""
        seconds = max(self.flood.bar_seconds, retry_after)
        self._bars.bar((session_id, device_id), seconds)
        return seconds

    def _refuse_barred(self, *keys: str | None) -> None:
        left = self._bars.barred_for(*keys)
        if left is not None:
            raise SocketRateLimited(retry_after=left)

    async def issue_ticket(self, who: Principal, device_id: str | None) -> tuple[str, datetime]:
        self._refuse_barred(who.session_id, device_id)
        if device_id is not None:
            device = await self._devices.get(device_id)
            if device is None or device.account_id != who.account_id or device.revoked_at:
                raise NotFound("no such device")
        token = new_token()
        expires = self._clock.now() + self._ttl
        await self._tickets.issue(token, Ticket(who.account_id, who.session_id, device_id, expires))
        return token, expires

    async def redeem_ticket(self, token: str, proof: str | None = None) -> Principal:
        """Single use: the ticket is deleted by the same operation that reads it.

        ``proof`` (base64url), if given, must be the ticket's device's socket proof
        over ``token``: the ticket is spent either way."""
        now = self._clock.now()
        ticket = await self._tickets.redeem(token, now) if well_formed(token) else None
        if ticket is None:
            raise InvalidTicket()
        # A ticket taken before its socket was closed for flooding: spent, and refused.
        self._refuse_barred(ticket.session_id, ticket.device_id)
        account = await self._accounts.get(ticket.account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise InvalidTicket()
        if not await self._sessions.is_live(ticket.session_id, now):
            raise InvalidTicket()
        if ticket.device_id is not None:
            device = await self._devices.get(ticket.device_id)
            if device is None or device.revoked_at is not None:
                raise InvalidTicket()
            if proof is not None:
                _check_proof(proof, device.sign_key, account.id, device.id, token)
        elif proof is not None:
            raise InvalidSocketProof()  # nothing to prove without a device
        return Principal(account.id, account.role, ticket.session_id, ticket.device_id)


def _check_proof(proof: str, sign_key: str, account_id: str, device_id: str, token: str) -> None:
    try:
        verify_socket_proof(
            PublicSigningKey(from_base64url(sign_key)),
            from_base64url(proof),
            account_id=account_id,
            device_id=device_id,
            ticket=token,
        )
    except CryptoError:
        raise InvalidSocketProof() from None
