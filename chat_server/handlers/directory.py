"""An in-process view of the participants' active devices.

Every send checks its recipient list against the participants' devices; reading them
from MongoDB for each message would double the database work per message. Entries are
dropped at once when this process changes a device, and every device change anywhere
counts one change (``DeviceStore.version``): each process asks that number every
``POLL_SECONDS`` and drops every entry when it moved. That is one query per process
every few seconds, where entries living 30 s meant one reload per account every 30 s
(at 1,000 devices, part of the 18 % of the server's samples that timed reloads took in
a long benchmark run). Entries still expire after ``KEEP_SECONDS``, in case a change
was written and its count was not. A mismatch is always re-checked against MongoDB
before a send is refused, so a stale entry can cost a query, never a wrong refusal.

What a stale entry can do is accept an envelope that a client with an equally stale
directory still wraps to a device revoked on *another* process, for at most
``POLL_SECONDS``; the revoked device itself can no longer connect or fetch anything
(THREAT_MODEL.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chat_server.cache import CountedCache
from chat_server.clock import Clock
from chat_server.storage.devices import Device, DeviceStore
from e2e_crypto.wire import from_base64url

POLL_SECONDS: Final = 5.0
KEEP_SECONDS: Final = 600.0


@dataclass(frozen=True, slots=True)
class DirectoryDevice:
    account_id: str
    device_id: str
    enc_key_raw: bytes
    sign_key_raw: bytes


class DeviceDirectory:
    def __init__(self, devices: DeviceStore, clock: Clock) -> None:
        self._devices = devices
        self._cache = CountedCache[str, list[DirectoryDevice]](
            self._active,
            count=devices.version,
            poll=POLL_SECONDS,
            keep_for=KEEP_SECONDS,
            max_entries=50_000,
            now=clock.monotonic,
        )

    def invalidate(self, account_id: str) -> None:
        self._cache.forget(account_id)

    async def of_account(self, account_id: str, *, fresh: bool = False) -> list[DirectoryDevice]:
        return await self._cache.get(account_id, fresh=fresh)

    async def _active(self, account_id: str) -> list[DirectoryDevice]:
        return [_entry(d) for d in await self._devices.active([account_id])]

    async def devices_of(
        self, account_ids: list[str], *, fresh: bool = False
    ) -> set[tuple[str, str, bytes]]:
        found: set[tuple[str, str, bytes]] = set()
        for account_id in account_ids:
            for d in await self._cache.get(account_id, fresh=fresh):
                found.add((d.account_id, d.device_id, d.enc_key_raw))
        return found

    async def device(self, account_id: str, device_id: str) -> DirectoryDevice | None:
        for fresh in (False, True):
            for d in await self.of_account(account_id, fresh=fresh):
                if d.device_id == device_id:
                    return d
        return None


def _entry(device: Device) -> DirectoryDevice:
    return DirectoryDevice(
        device.account_id,
        device.id,
        from_base64url(device.enc_key, max_bytes=32),
        from_base64url(device.sign_key, max_bytes=32),
    )
