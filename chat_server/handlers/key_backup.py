"""An account's key backup: its keys, sealed on the client with a key derived from
a recovery secret the server never sees. The server keeps one opaque blob per
account, of bounded size, readable by that account only."""

from __future__ import annotations

from chat_server.clock import Clock
from chat_server.errors import BadRequest, NotFound, TooLarge
from chat_server.principal import Principal
from chat_server.storage.attachments import KeyBackupStore

MAX_BACKUP_BYTES = 64 * 1024


class KeyBackups:
    def __init__(self, backups: KeyBackupStore, clock: Clock) -> None:
        self._backups = backups
        self._clock = clock

    async def put(self, who: Principal, blob: bytes) -> None:
        """Replaces the account's backup. ``blob`` may be one byte over the limit:
        the transport reads at most that much, so a longer body is refused here
        without being read whole."""
        if len(blob) > MAX_BACKUP_BYTES:
            raise TooLarge(f"a key backup is 1 to {MAX_BACKUP_BYTES} bytes")
        if not blob:
            raise BadRequest(f"a key backup is 1 to {MAX_BACKUP_BYTES} bytes")
        await self._backups.put(who.account_id, blob, self._clock.now())

    async def get(self, who: Principal) -> bytes:
        blob = await self._backups.get(who.account_id)
        if blob is None:
            raise NotFound()
        return blob
