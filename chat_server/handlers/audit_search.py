"""The moderator console's view of the audit log: search it, and verify its chain.

Entries already hold only ids, codes and a keyed pseudonym of the client address
(``moderation.audit``), so a moderator sees them as stored, less the address
pseudonym, which nobody needs to read. Verification walks the whole chain on the
server, page by page (``AuditStore.verify``), the same check ``carechat admin
verify-audit`` runs.
"""

from __future__ import annotations

from typing import Final

from chat_server.handlers.reports import require_moderator
from chat_server.principal import Principal
from chat_server.storage.audit import AuditQuery, AuditStore
from moderation.audit import AuditEntry

MAX_PAGE: Final = 100


class AuditSearch:
    def __init__(self, store: AuditStore) -> None:
        self._store = store

    async def search(
        self, moderator: Principal, query: AuditQuery, limit: int
    ) -> dict[str, object]:
        """A page of entries, newest first; ``before`` asks for the next page."""
        require_moderator(moderator)
        limit = max(1, min(limit, MAX_PAGE))
        # One more than asked says whether another page follows.
        entries = await self._store.search(query, limit + 1)
        page = entries[:limit]
        reply: dict[str, object] = {"entries": [_shown(e) for e in page]}
        if len(entries) > limit:
            reply["before"] = page[-1].seq
        return reply

    async def verify(self, moderator: Principal) -> dict[str, object]:
        require_moderator(moderator)
        count = await self._store.count()
        broken = await self._store.verify()
        if broken is None:
            return {"ok": True, "entries": count}
        return {
            "ok": False,
            "entries": count,
            "broken": {"seq": broken.seq, "reason": str(broken.reason)},
        }


def _shown(entry: AuditEntry) -> dict[str, object]:
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": str(entry.action),
        "subject": entry.subject,
        "details": dict(entry.details),
    }
