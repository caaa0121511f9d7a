"""The people a benchmark needs, written straight to MongoDB through our own stores.

Registration is not what the benchmark measures: each account would cost two
argon2id hashes (by design about 40 ms of CPU each) and the per-IP registration
limit would stop it after ten. So the seed writes what registration, care-link
acceptance and thread acceptance would have left behind — active accounts, live
sessions, active care links, open threads — and hands the loader nothing but what a
logged-in client holds: account ids and session tokens. Keys are made and published
by the loader through the HTTP API, exactly as the SDK does on a first device.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import Clock
from chat_server.model.threads import CareEvent, ThreadState
from chat_server.passwords import PasswordHasher
from chat_server.principal import AccountStatus, Role
from chat_server.storage.accounts import AccountStore, Registration
from chat_server.storage.practices import CareLinkStore, LinkStatus, PracticeStore, ProviderKind
from chat_server.storage.sessions import SessionStore
from chat_server.storage.threads import ThreadStore
from chat_server.tokens import new_id, new_token

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Person:
    account_id: str
    token: str  # a session token: what a logged-in client holds


@dataclass(frozen=True, slots=True)
class Pair:
    thread_id: str
    patient: Person
    practitioner: Person


@dataclass(frozen=True, slots=True)
class Team:
    """A patient's thread with a practice: every member of the team receives it."""

    thread_id: str
    patient: Person
    members: tuple[Person, ...]


@dataclass(frozen=True, slots=True)
class Roster:
    pairs: tuple[Pair, ...]
    team: Team

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Roster:
        def person(d: dict[str, str]) -> Person:
            return Person(d["account_id"], d["token"])

        team = doc["team"]
        return cls(
            pairs=tuple(
                Pair(p["thread_id"], person(p["patient"]), person(p["practitioner"]))
                for p in doc["pairs"]
            ),
            team=Team(
                team["thread_id"],
                person(team["patient"]),
                tuple(person(m) for m in team["members"]),
            ),
        )


class Seeder:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._accounts = AccountStore(db)
        self._sessions = SessionStore(db)
        self._links = CareLinkStore(db)
        self._practices = PracticeStore(db)
        self._threads = ThreadStore(db)
        self._password_hash = ""

    async def roster(self, pairs: int, team_size: int) -> Roster:
        # One hash of a password nobody knows: the accounts exist, nobody can log in.
        self._password_hash = await PasswordHasher().hash(secrets.token_urlsafe(32))
        return Roster(
            pairs=tuple([await self._pair(i) for i in range(pairs)]),
            team=await self._team(team_size),
        )

    async def _pair(self, index: int) -> Pair:
        patient = await self._person(Role.PATIENT, f"patient{index}")
        practitioner = await self._person(Role.PRACTITIONER, f"doctor{index}")
        await self._link(patient, ProviderKind.PRACTITIONER, practitioner.account_id)
        thread_id = await self._open_thread(
            patient, ProviderKind.PRACTITIONER, practitioner.account_id, [practitioner]
        )
        return Pair(thread_id, patient, practitioner)

    async def _team(self, size: int) -> Team:
        admin = await self._person(Role.PRACTICE_ADMIN, "team-admin")
        practice = await self._practices.create(
            new_id(), "Bench practice", admin.account_id, self._clock.now()
        )
        members = [await self._person(Role.PRACTITIONER, f"team{i}") for i in range(size - 1)]
        for member in members:
            await self._practices.add_member(practice.id, member.account_id, "practitioner")
        patient = await self._person(Role.PATIENT, "team-patient")
        await self._link(patient, ProviderKind.PRACTICE, practice.id)
        thread_id = await self._open_thread(patient, ProviderKind.PRACTICE, practice.id, members)
        return Team(thread_id, patient, tuple(members))

    async def _person(self, role: Role, name: str) -> Person:
        now = self._clock.now()
        account = await self._accounts.create(
            account_id=new_id(),
            email=f"{name}.{secrets.token_hex(4)}@bench.invalid",
            role=role,
            display_name=name,
            password_hash=self._password_hash,
            now=now,
            registration=(
                Registration("riziv", "12345678901", verified=True)
                if role is Role.PRACTITIONER
                else None
            ),
            status=AccountStatus.ACTIVE,
        )
        token = new_token()
        await self._sessions.create(token, account.id, now, SESSION_LIFETIME, SESSION_LIFETIME)
        return Person(account.id, token)

    async def _link(self, patient: Person, kind: ProviderKind, provider_id: str) -> None:
        await self._links.create(
            new_id(),
            patient.account_id,
            kind,
            provider_id,
            LinkStatus.ACTIVE,
            "bench",
            self._clock.now(),
        )

    async def _open_thread(
        self, patient: Person, kind: ProviderKind, provider_id: str, members: list[Person]
    ) -> str:
        thread = await self._threads.create(
            new_id(),
            patient_id=patient.account_id,
            provider_kind=str(kind),
            provider_id=provider_id,
            participants=[patient.account_id, *(m.account_id for m in members)],
            now=self._clock.now(),
        )
        await self._threads.transition(
            thread.id,
            [ThreadState.REQUESTED],
            ThreadState.OPEN,
            self._clock.now(),
            event=CareEvent.ACCEPT,
            actor=members[0].account_id if members else None,
        )
        return thread.id
