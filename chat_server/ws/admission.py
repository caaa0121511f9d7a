"""How many sockets each client address holds open without having authenticated.

An unauthenticated socket costs memory and a writer task but proves nothing about
who holds it, so one address may keep only ``per_ip`` of them at once: the handshake
past that is refused (HTTP 429, before the upgrade). A socket stops counting as soon
as its ``hello`` succeeds, or when it closes; the authentication deadline
(``ws_auth_timeout_seconds``, counted from the opening) bounds how long it can count.

The count is per server process, in memory: with N processes behind a balancer an
address may hold up to N times the cap. That is enough to stop one client from
exhausting a process, which is the point; a global count would cost a Redis round
trip on every handshake.
"""

from __future__ import annotations


class PendingSockets:
    def __init__(self, per_ip: int) -> None:
        self._per_ip = per_ip
        self._by_ip: dict[str, int] = {}

    def admit(self, ip: str) -> bool:
        """Counts one more socket for ``ip``, or answers False if it is at the cap."""
        held = self._by_ip.get(ip, 0)
        if held >= self._per_ip:
            return False
        self._by_ip[ip] = held + 1
        return True

    def release(self, ip: str) -> None:
        held = self._by_ip.get(ip, 0)
        if held <= 1:
            # Addresses with nothing pending are forgotten: the map stays as small
            # as the number of addresses currently connecting.
            self._by_ip.pop(ip, None)
        else:
            self._by_ip[ip] = held - 1

    def held(self, ip: str) -> int:
        return self._by_ip.get(ip, 0)
