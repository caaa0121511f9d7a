"""Patients' consents per purpose: given to a text version, revocable, enforced.

See ``moderation/consents.py`` for the purposes and what the server enforces without
reading a message; this service records and answers. A grant names the text version
the patient was shown: only the current version is accepted, so nobody consents to a
text the service no longer shows.
"""

from __future__ import annotations

from chat_server.clock import Clock
from chat_server.errors import (
    BadRequest,
    ConsentRequired,
    ConsentTextOutdated,
    NotFound,
    PatientsOnly,
)
from chat_server.principal import Principal, Role
from chat_server.storage.consents import ConsentStore
from chat_server.storage.practices import PracticeStore
from moderation.consents import (
    SCOPED_BY_PRACTICE,
    TEXT_VERSIONS,
    ConsentAction,
    ConsentRecord,
    Purpose,
)


class Consents:
    def __init__(self, consents: ConsentStore, practices: PracticeStore, clock: Clock) -> None:
        self._consents = consents
        self._practices = practices
        self._clock = clock

    async def grant(self, who: Principal, purpose: Purpose, version: str, scope: str) -> None:
        await self._check(who, purpose, scope)
        if version != TEXT_VERSIONS[purpose]:
            raise ConsentTextOutdated()
        await self._record(who, purpose, scope, ConsentAction.GRANT, version)

    async def revoke(self, who: Principal, purpose: Purpose, scope: str) -> None:
        await self._check(who, purpose, scope)
        latest = await self._consents.latest(who.account_id, purpose, scope)
        if latest is None or latest.action is ConsentAction.REVOKE:
            raise NotFound()  # nothing to revoke
        await self._record(who, purpose, scope, ConsentAction.REVOKE, latest.version)

    async def mine(self, who: Principal) -> dict[str, object]:
        """The caller's history, and which consents count now."""
        history = await self._consents.history(who.account_id)
        latest: dict[tuple[Purpose, str], ConsentRecord] = {}
        for record in history:
            latest[(record.purpose, record.scope)] = record
        return {
            "text_versions": {str(p): v for p, v in TEXT_VERSIONS.items()},
            "current": [
                {"purpose": str(p), "scope": s, "version": r.version, "since": r.at.isoformat()}
                for (p, s), r in latest.items()
                if r.counts(TEXT_VERSIONS[p])
            ],
            "history": [
                {
                    "purpose": str(r.purpose),
                    "scope": r.scope,
                    "action": str(r.action),
                    "version": r.version,
                    "at": r.at.isoformat(),
                }
                for r in history
            ],
        }

    async def holds(self, account_id: str, purpose: Purpose, scope: str = "") -> bool:
        latest = await self._consents.latest(account_id, purpose, scope)
        return latest is not None and latest.counts(TEXT_VERSIONS[purpose])

    async def require(self, account_id: str, purpose: Purpose, scope: str = "") -> None:
        """Raises ConsentRequired unless ``account_id`` consents to ``purpose`` now."""
        if not await self.holds(account_id, purpose, scope):
            raise ConsentRequired()

    async def stop_mailings(self, patient_id: str, practice_id: str) -> None:
        """The e-mail's one-click unsubscribe: revokes the patient's consent to this
        practice's prevention mailings. Idempotent (no session, mailbox providers
        retry): nothing is recorded when the latest record is already a revocation.
        Without any record it still records one, so the patient's history shows the
        click (it can only come from an e-mail sent while they consented)."""
        purpose = Purpose.PREVENTION_MAILINGS
        latest = await self._consents.latest(patient_id, purpose, practice_id)
        if latest is not None and latest.action is ConsentAction.REVOKE:
            return
        version = latest.version if latest is not None else TEXT_VERSIONS[purpose]
        await self._consents.add(
            ConsentRecord(
                patient_id, purpose, practice_id, ConsentAction.REVOKE, version, self._clock.now()
            )
        )

    async def mailing_recipients(self, practice_id: str, patients: list[str]) -> list[str]:
        """The patients a practice's prevention mailing may reach: those consenting
        for this practice to the current text (for the mailing fan-out, every batch,
        so a revocation also stops a campaign that is already sending). Opt-in: a
        patient without a record receives nothing (docs/mailings.md)."""
        purpose = Purpose.PREVENTION_MAILINGS
        latest = await self._consents.latest_of(patients, purpose, practice_id)
        return [p for p in patients if p in latest and latest[p].counts(TEXT_VERSIONS[purpose])]

    async def _check(self, who: Principal, purpose: Purpose, scope: str) -> None:
        if who.role is not Role.PATIENT:
            raise PatientsOnly("consents are a patient's")
        if purpose in SCOPED_BY_PRACTICE:
            if not scope:
                raise BadRequest(fields={"scope": ["the practice id this consent is for"]})
            if await self._practices.get(scope) is None:
                raise NotFound()
        elif scope:
            raise BadRequest(fields={"scope": ["this purpose has no scope"]})

    async def _record(
        self, who: Principal, purpose: Purpose, scope: str, action: ConsentAction, version: str
    ) -> None:
        await self._consents.add(
            ConsentRecord(who.account_id, purpose, scope, action, version, self._clock.now())
        )
