"""A practice's roster: the patient list it imports, with labels only its staff read.

The practice's client parses the CSV (UTF-8 or Excel's semicolon/Latin-1 export,
``e2e_crypto.client.roster``), reports the rows it could not read, seals each row's
labels (age band, conditions, vaccination status) to the practice's staff group
epoch, and submits the rest: e-mail, language and the sealed labels. The server
refuses what it cannot accept (a malformed address, an unknown language, labels too
large), reports each refusal with its line number, stores the new rows and sends
each one an invitation: accepting it gives the patient's account an active care
link, and the row is then linked to that account. A row whose address is already on
the roster replaces that row's language and labels (a practice imports its newer
export: a vaccination given, an age band passed) and is not invited again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from chat_server.clock import Clock
from chat_server.handlers.access import AccessGate
from chat_server.handlers.invitations import InvitationService
from chat_server.handlers.throttle import Throttle
from chat_server.mailing_mail import LANGUAGES
from chat_server.principal import Principal
from chat_server.storage.accounts import AccountStore
from chat_server.storage.practices import CareLinkStore
from chat_server.storage.roster import RosterFields, RosterRow, RosterStore
from moderation.ratelimit import RateLimit

MAX_LABELS_BYTES: Final = 4096
# Rows a practice may import per day: each one mails an invitation to a stranger.
ROSTER_ROWS: Final = RateLimit("roster-rows", limit=20_000, window_seconds=24 * 3600)
EMAIL: Final = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


@dataclass(frozen=True, slots=True)
class RosterInput:
    line: int
    email: str
    language: str
    labels: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int  # new rows, each invited
    rejected: list[Rejected]
    updated: int = 0  # rows already on the roster, their language and labels replaced


@dataclass(frozen=True, slots=True)
class RosterEntry:
    row: RosterRow
    account_id: str | None  # set once the invitation was accepted (active care link)


@dataclass(frozen=True, slots=True)
class RosterLinks:
    """Where a row's account is found: accounts by address, and their care links."""

    accounts: AccountStore
    links: CareLinkStore


class RosterService:
    def __init__(
        self,
        *,
        roster: RosterStore,
        gate: AccessGate,
        invitations: InvitationService,
        found: RosterLinks,
        throttle: Throttle,
        clock: Clock,
    ) -> None:
        self._roster = roster
        self._gate = gate
        self._invitations = invitations
        self._found = found
        self._throttle = throttle
        self._clock = clock

    async def import_rows(
        self,
        who: Principal,
        practice_id: str,
        *,
        group: str,
        epoch: int,
        rows: Sequence[RosterInput],
        ip: str,
    ) -> ImportReport:
        await self._gate.practice(who, practice_id)
        await self._throttle.check(ROSTER_ROWS, practice_id, cost=max(1, len(rows)))
        rejected: list[Rejected] = []
        imported = updated = 0
        for row in rows:
            email = row.email.strip().lower()
            reason = _refusal(email, row)
            if reason is not None:
                rejected.append(Rejected(row.line, reason))
                continue
            stored = RosterFields(email, row.language, row.labels, group, epoch, row.line)
            if await self._roster.add(practice_id, stored, self._clock.now()) is not None:
                await self._invitations.invite_roster_row(who, practice_id, email, ip)
                imported += 1
            elif await self._roster.replace(practice_id, stored, self._clock.now()) is not None:
                updated += 1  # invited when it was first imported: not mailed again
            else:  # the row was erased between the two writes
                rejected.append(Rejected(row.line, "the row changed during the import"))
        return ImportReport(imported, rejected, updated)

    async def entries(self, who: Principal, practice_id: str) -> list[RosterEntry]:
        await self._gate.practice(who, practice_id)
        rows = await self._roster.for_practice(practice_id)
        ids = await self._found.accounts.ids_by_email([r.email for r in rows])
        linked = await self._found.links.active_patients(practice_id, list(ids.values()))
        return [RosterEntry(r, ids[r.email] if ids.get(r.email) in linked else None) for r in rows]


def _refusal(email: str, row: RosterInput) -> str | None:
    # Reasons name the field, never echo its value (they reach logs and screens).
    if EMAIL.fullmatch(email) is None:
        return "the e-mail address is malformed"
    if row.language not in LANGUAGES:
        return "the language is not one of " + ", ".join(sorted(LANGUAGES))
    if not 0 < len(row.labels) <= MAX_LABELS_BYTES:
        return f"the sealed labels must be 1 to {MAX_LABELS_BYTES} bytes"
    return None
