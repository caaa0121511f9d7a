"""Practices and the care relationships between patients and their providers.

A practice's practitioners and staff are participants of the care threads patients
open with it, so membership is consented and signed. ``invitations`` holds what the
admin proposed (account -> role) and whether the account accepted it;
``practitioners`` and ``staff`` are exactly the latest membership list the admin's
root key signed (``membership``), replaced in one conditional update on its epoch so
two racing lists cannot both land.

A care link joins a patient to a provider: a practitioner (an account) or a practice.
At most one link per pair is *live* (requested or active) — a partial unique index —
so concurrent invitations or requests cannot create duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bson import Binary
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class ProviderKind(StrEnum):
    PRACTITIONER = "practitioner"
    PRACTICE = "practice"


class LinkStatus(StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"
    DECLINED = "declined"
    ENDED = "ended"


LIVE = [str(LinkStatus.REQUESTED), str(LinkStatus.ACTIVE)]


@dataclass(frozen=True, slots=True)
class Invitation:
    """A membership the admin proposed; only an accepted one may be signed into a list."""

    role: str
    accepted: bool


@dataclass(frozen=True, slots=True)
class Practice:
    id: str
    name: str
    admins: tuple[str, ...]
    practitioners: tuple[str, ...]
    staff: tuple[str, ...]
    invitations: dict[str, Invitation]
    membership: bytes | None  # the latest signed membership list
    epoch: int  # its epoch; 0 before the first

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Practice:
        membership = doc.get("membership") or {}
        return cls(
            doc["_id"],
            doc["name"],
            tuple(doc.get("admins", ())),
            tuple(doc.get("practitioners", ())),
            tuple(doc.get("staff", ())),
            {
                account: Invitation(item["role"], bool(item["accepted"]))
                for account, item in (doc.get("invitations") or {}).items()
            },
            bytes(membership["list"]) if membership else None,
            int(membership.get("epoch", 0)),
        )

    @property
    def admin(self) -> str:
        """The account whose root key signs the membership lists: the creator."""
        return self.admins[0]

    def members(self) -> frozenset[str]:
        return frozenset(self.admins + self.practitioners + self.staff)

    def role_of(self, account_id: str) -> str | None:
        if account_id in self.practitioners:
            return "practitioner"
        if account_id in self.staff:
            return "staff"
        return None

    def to_public(self, *, with_invitations: bool = False) -> dict[str, Any]:
        public: dict[str, Any] = {
            "practice_id": self.id,
            "name": self.name,
            "admin": self.admin,
            "practitioners": list(self.practitioners),
            "staff": list(self.staff),
            "membership_epoch": self.epoch,
        }
        if with_invitations:
            public["invitations"] = [
                {"account_id": account, "role": item.role, "accepted": item.accepted}
                for account, item in sorted(self.invitations.items())
            ]
        return public


@dataclass(frozen=True, slots=True)
class CareLink:
    id: str
    patient_id: str
    provider_kind: ProviderKind
    provider_id: str
    status: LinkStatus
    created_via: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CareLink:
        return cls(
            doc["_id"],
            doc["patient_id"],
            ProviderKind(doc["provider_kind"]),
            doc["provider_id"],
            LinkStatus(doc["status"]),
            doc["created_via"],
            doc["created_at"],
            doc["updated_at"],
        )

    def to_public(self) -> dict[str, Any]:
        return {
            "care_link_id": self.id,
            "patient_id": self.patient_id,
            "provider": {"kind": str(self.provider_kind), "id": self.provider_id},
            "status": str(self.status),
            "created_via": self.created_via,
            "created_at": self.created_at.isoformat(),
        }


class LinkExists(Exception):
    pass


class EpochTaken(Exception):
    """Another membership list took this epoch first, or a member withdrew meanwhile."""


class PracticeStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._practices = db["practices"]

    async def create(self, practice_id: str, name: str, admin_id: str, now: datetime) -> Practice:
        doc: dict[str, Any] = {
            "_id": practice_id,
            "name": name,
            "admins": [admin_id],
            "practitioners": [],
            "staff": [],
            "invitations": {},
            "membership": None,
            "created_at": now,
        }
        await self._practices.insert_one(doc)
        return Practice.from_doc(doc)

    async def get(self, practice_id: str) -> Practice | None:
        doc = await self._practices.find_one({"_id": practice_id})
        return Practice.from_doc(doc) if doc else None

    async def invite(self, practice_id: str, account_id: str, role: str) -> Practice | None:
        """Proposes ``role`` to ``account_id``; a new proposal needs a new acceptance."""
        doc = await self._practices.find_one_and_update(
            {"_id": practice_id},
            {"$set": {f"invitations.{account_id}": {"role": role, "accepted": False}}},
            return_document=ReturnDocument.AFTER,
        )
        return Practice.from_doc(doc) if doc else None

    async def accept(self, practice_id: str, account_id: str, role: str) -> Practice | None:
        """Marks the invitation accepted if it still proposes ``role`` (the role the
        account saw); None otherwise."""
        doc = await self._practices.find_one_and_update(
            {"_id": practice_id, f"invitations.{account_id}.role": role},
            {"$set": {f"invitations.{account_id}.accepted": True}},
            return_document=ReturnDocument.AFTER,
        )
        return Practice.from_doc(doc) if doc else None

    async def withdraw(self, practice_id: str, account_id: str) -> Practice | None:
        """Drops the account's invitation or consent; None if it had none."""
        doc = await self._practices.find_one_and_update(
            {"_id": practice_id, f"invitations.{account_id}": {"$exists": True}},
            {"$unset": {f"invitations.{account_id}": ""}},
            return_document=ReturnDocument.AFTER,
        )
        return Practice.from_doc(doc) if doc else None

    async def withdraw_offer(self, practice_id: str, account_id: str) -> Practice | None:
        """The admin takes back its offer to an account the latest list does not name;
        None if there is no such offer. Conditional on the list, so a publication
        naming the account and this withdrawal cannot both land (the publication
        requires the accepted invitation this removes)."""
        doc = await self._practices.find_one_and_update(
            {
                "_id": practice_id,
                f"invitations.{account_id}": {"$exists": True},
                "practitioners": {"$ne": account_id},
                "staff": {"$ne": account_id},
            },
            {"$unset": {f"invitations.{account_id}": ""}},
            return_document=ReturnDocument.AFTER,
        )
        return Practice.from_doc(doc) if doc else None

    async def publish_membership(
        self,
        practice_id: str,
        *,
        epoch: int,
        signed: bytes,
        digest: bytes,
        practitioners: list[str],
        staff: list[str],
        now: datetime,
    ) -> Practice:
        """Stores list ``epoch`` if the stored one is still ``epoch - 1`` and every
        member still holds an accepted invitation for its role (a withdrawal racing
        the publication wins); EpochTaken otherwise."""
        expected: dict[str, Any] = (
            {"membership": None} if epoch == 1 else {"membership.epoch": epoch - 1}
        )
        for role, accounts in (("practitioner", practitioners), ("staff", staff)):
            for account in accounts:
                expected[f"invitations.{account}.role"] = role
                expected[f"invitations.{account}.accepted"] = True
        doc = await self._practices.find_one_and_update(
            {"_id": practice_id, **expected},
            {
                "$set": {
                    "membership": {
                        "epoch": epoch,
                        "list": Binary(signed),
                        "digest": Binary(digest),
                        "published_at": now,
                    },
                    "practitioners": practitioners,
                    "staff": staff,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise EpochTaken()
        return Practice.from_doc(doc)

    async def inviting(self, account_id: str) -> list[Practice]:
        """Practices that proposed a role to ``account_id`` (accepted or not)."""
        cursor = self._practices.find({f"invitations.{account_id}": {"$exists": True}}).limit(100)
        return [Practice.from_doc(doc) async for doc in cursor]

    async def add_member(self, practice_id: str, account_id: str, role: str) -> Practice | None:
        """Seeding only (benchmarks): adds a member without consent or signature."""
        field = {"practitioner": "practitioners", "staff": "staff", "admin": "admins"}[role]
        doc = await self._practices.find_one_and_update(
            {"_id": practice_id},
            {"$addToSet": {field: account_id}},
            return_document=ReturnDocument.AFTER,
        )
        return Practice.from_doc(doc) if doc else None

    async def of_member(self, account_id: str) -> list[Practice]:
        query = {"$or": [{f: account_id} for f in ("admins", "practitioners", "staff")]}
        return [Practice.from_doc(doc) async for doc in self._practices.find(query)]


class CareLinkStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._links = db["care_links"]

    async def create(
        self,
        link_id: str,
        patient_id: str,
        kind: ProviderKind,
        provider_id: str,
        status: LinkStatus,
        via: str,
        now: datetime,
    ) -> CareLink:
        doc = _link_document(link_id, patient_id, kind, provider_id, status, via, now)
        try:
            await self._links.insert_one(doc)
        except DuplicateKeyError:
            raise LinkExists() from None
        return CareLink.from_doc(doc)

    async def add_many(
        self,
        links: Sequence[tuple[str, str]],
        kind: ProviderKind,
        provider_id: str,
        status: LinkStatus,
        via: str,
        now: datetime,
    ) -> None:
        """Many (link id, patient) links to one provider in one write (seeding large
        audiences, e.g. a test's campaign to 20,000 patients: one round trip each
        would take minutes)."""
        if links:
            await self._links.insert_many(
                [_link_document(i, p, kind, provider_id, status, via, now) for i, p in links]
            )

    async def get(self, link_id: str) -> CareLink | None:
        doc = await self._links.find_one({"_id": link_id})
        return CareLink.from_doc(doc) if doc else None

    async def live_between(self, patient_id: str, provider_id: str) -> CareLink | None:
        doc = await self._links.find_one(
            {"patient_id": patient_id, "provider_id": provider_id, "status": {"$in": LIVE}}
        )
        return CareLink.from_doc(doc) if doc else None

    async def transition(
        self, link_id: str, from_status: LinkStatus, to_status: LinkStatus, now: datetime
    ) -> CareLink | None:
        """Moves a link between states atomically; None if it was not in ``from_status``."""
        doc = await self._links.find_one_and_update(
            {"_id": link_id, "status": str(from_status)},
            {"$set": {"status": str(to_status), "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return CareLink.from_doc(doc) if doc else None

    async def for_patient(self, patient_id: str) -> list[CareLink]:
        cursor = self._links.find({"patient_id": patient_id}).sort("created_at", -1).limit(500)
        return [CareLink.from_doc(doc) async for doc in cursor]

    async def for_providers(self, provider_ids: list[str]) -> list[CareLink]:
        cursor = (
            self._links.find({"provider_id": {"$in": provider_ids}})
            .sort("created_at", -1)
            .limit(500)
        )
        return [CareLink.from_doc(doc) async for doc in cursor]

    async def active_patients(self, provider_id: str, patients: list[str]) -> set[str]:
        """Which of ``patients`` have an active care link to ``provider_id``."""
        cursor = self._links.find(
            {
                "provider_id": provider_id,
                "patient_id": {"$in": patients},
                "status": str(LinkStatus.ACTIVE),
            },
            {"patient_id": 1},
        )
        return {doc["patient_id"] async for doc in cursor}

    async def active_peers(self, account_id: str, provider_ids: list[str]) -> set[str]:
        """Accounts/practices linked to ``account_id`` by an active link, either way."""
        query = {
            "status": str(LinkStatus.ACTIVE),
            "$or": [{"patient_id": account_id}, {"provider_id": {"$in": provider_ids}}],
        }
        peers: set[str] = set()
        async for doc in self._links.find(query, {"patient_id": 1, "provider_id": 1}):
            peers.update((doc["patient_id"], doc["provider_id"]))
        return peers


def _link_document(
    link_id: str,
    patient_id: str,
    kind: ProviderKind,
    provider_id: str,
    status: LinkStatus,
    via: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "_id": link_id,
        "patient_id": patient_id,
        "provider_kind": str(kind),
        "provider_id": provider_id,
        "status": str(status),
        "created_via": via,
        "created_at": now,
        "updated_at": now,
    }
