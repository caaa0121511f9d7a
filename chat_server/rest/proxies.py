"""The client's address when requests arrive through load balancers we trust.

Per-address limits (login, registration, password reset, sockets waiting for a
login) and the audit log's address pseudonyms need the client's address, not the
balancer's: behind one, every request's peer is the balancer, and a per-address
limit becomes one limit shared by everybody. A proxy names the client in
``X-Forwarded-For`` by appending the address it saw to whatever the client sent, so
only entries appended by proxies we trust are facts; anything to their left is the
client's to write.

The middleware therefore reads the header only from a peer in ``trusted_proxies``
(settings), and walks it from the right past every trusted proxy to the first
address that is not one: the client a trusted proxy vouched for. With no trusted
proxies (the default) the header is ignored and the peer is the client. It rewrites
``request.remote`` once, before any route runs, so the HTTP routes
(``rest/auth.client_ip``) and the WebSocket handshake (``ws/endpoint.py``) both read
the result and nothing else parses the header.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def _address(text: str) -> Address | None:
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; match them as IPv4.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    def __init__(self, networks: Sequence[Network]) -> None:
        self._networks = tuple(networks)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self._networks)

    def client_address(self, peer: str | None, forwarded_for: Sequence[str]) -> str | None:
        """The client behind ``peer``, given the ``X-Forwarded-For`` header lines
        (in order); ``peer`` itself unless it is a trusted proxy."""
        hop = _address(peer) if peer else None
        if hop is None or not self.trusts(hop):
            return peer
        for line in reversed(forwarded_for):
            for entry in reversed(line.split(",")):
                address = _address(entry)
                if address is None:
                    # A trusted proxy passed on something that is not an address
                    # ("unknown", a port): the nearest trusted hop is all we know,
                    # and the client must not get to pick its own key.
                    return str(hop)
                if not self.trusts(address):
                    return str(address)
                hop = address
        # Nothing but trusted hops: the request came from one of our own proxies.
        return str(hop)

    def middleware(self) -> Middleware:
        @web.middleware
        async def client_address(request: web.Request, handler: Handler) -> web.StreamResponse:
            remote = self.client_address(
                request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, [])
            )
            if remote is not None and remote != request.remote:
                request = request.clone(remote=remote)
            return await handler(request)

        return client_address
