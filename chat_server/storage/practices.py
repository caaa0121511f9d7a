"""Practices and the care relationships between patients and their providers.

A care link joins a patient to a provider: a practitioner (an account) or a practice.
At most one link per pair is *live* (requested or active) — a partial unique index —
so concurrent invitations or requests cannot create duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

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
class Practice:
    id: str
    name: str
    admins: tuple[str, ...]
    practitioners: tuple[str, ...]
    staff: tuple[str, ...]

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Practice:
        return cls(
            doc["_id"],
            doc["name"],
            tuple(doc.get("admins", ())),
            tuple(doc.get("practitioners", ())),
            tuple(doc.get("staff", ())),
        )

    def members(self) -> frozenset[str]:
        return frozenset(self.admins + self.practitioners + self.staff)

    def to_public(self) -> dict[str, Any]:
        return {
            "practice_id": self.id,
            "name": self.name,
            "practitioners": list(self.practitioners),
        }


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


class PracticeStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._practices = db["practices"]

    async def create(self, practice_id: str, name: str, admin_id: str, now: datetime) -> Practice:
        doc = {
            "_id": practice_id,
            "name": name,
            "admins": [admin_id],
            "practitioners": [],
            "staff": [],
            "created_at": now,
        }
        await self._practices.insert_one(doc)
        return Practice.from_doc(doc)

    async def get(self, practice_id: str) -> Practice | None:
        doc = await self._practices.find_one({"_id": practice_id})
        return Practice.from_doc(doc) if doc else None

    async def add_member(self, practice_id: str, account_id: str, role: str) -> Practice | None:
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
        doc = {
            "_id": link_id,
            "patient_id": patient_id,
            "provider_kind": str(kind),
            "provider_id": provider_id,
            "status": str(status),
            "created_via": via,
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self._links.insert_one(doc)
        except DuplicateKeyError:
            raise LinkExists() from None
        return CareLink.from_doc(doc)

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
