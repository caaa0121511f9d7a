"""Writing security events to the hash-chained audit log.

Entries name accounts and objects by id and the client IP only as a keyed pseudonym;
they never hold message content, e-mail addresses or tokens.
"""

from __future__ import annotations

from collections.abc import Mapping

from chat_server.clock import Clock
from chat_server.storage.audit import AuditStore
from chat_server.tokens import keyed_hash
from moderation.audit import AuditAction


class Auditor:
    def __init__(self, store: AuditStore, clock: Clock, secret: bytes) -> None:
        self._store = store
        self._clock = clock
        self._secret = secret

    async def record(
        self,
        action: AuditAction,
        *,
        actor: str | None = None,
        subject: str | None = None,
        ip: str | None = None,
        details: Mapping[str, str | int | bool] | None = None,
    ) -> None:
        await self._store.append(
            at=self._clock.now(),
            actor=actor,
            action=action,
            subject=subject,
            ip_hash=keyed_hash(self._secret, ip, purpose="audit-ip") if ip else None,
            details=dict(details or {}),
        )
