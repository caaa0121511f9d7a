"""Panels and who is online on them.

A panel is a group (``storage/groups.py``: its signed, numbered epochs say who its GPs
are) plus its name and settings, stored under the group's id. Presence is a short
lease each GP's console renews while open: a GP is online on a panel until ``until``,
which every process reads from MongoDB, so "only online GPs are offered a question"
holds across server processes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_server.model.queue import PanelSettings


@dataclass(frozen=True, slots=True)
class Panel:
    id: str  # also its group's id
    name: str
    admin_account: str
    settings: PanelSettings
    created_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Panel:
        raw = dict(doc["settings"])
        raw["capacity_overrides"] = dict(raw.get("capacity_overrides") or {})
        return cls(
            doc["_id"], doc["name"], doc["admin_account"], PanelSettings(**raw), doc["created_at"]
        )


class PanelExists(Exception):
    pass


class PanelStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._panels = db["panels"]
        self._presence = db["panel_presence"]

    async def create(self, panel: Panel) -> None:
        try:
            await self._panels.insert_one(
                {
                    "_id": panel.id,
                    "name": panel.name,
                    "admin_account": panel.admin_account,
                    "settings": asdict(panel.settings),
                    "created_at": panel.created_at,
                }
            )
        except DuplicateKeyError:
            raise PanelExists() from None

    async def get(self, panel_id: str) -> Panel | None:
        doc = await self._panels.find_one({"_id": panel_id})
        return Panel.from_doc(doc) if doc else None

    async def all(self, limit: int = 200) -> list[Panel]:
        return [Panel.from_doc(doc) async for doc in self._panels.find().sort("_id").limit(limit)]

    async def set_settings(self, panel_id: str, settings: PanelSettings) -> Panel | None:
        doc = await self._panels.find_one_and_update(
            {"_id": panel_id}, {"$set": {"settings": asdict(settings)}}, return_document=True
        )
        return Panel.from_doc(doc) if doc else None

    # -- presence -------------------------------------------------------------------------

    async def set_online(self, panel_id: str, gp_id: str, until: datetime, now: datetime) -> bool:
        """True if the GP was offline until now (a change worth announcing)."""
        before = await self._presence.find_one_and_update(
            {"_id": f"{panel_id}/{gp_id}"},
            {"$set": {"panel": panel_id, "gp": gp_id, "until": until}},
            upsert=True,
        )
        return before is None or before["until"] <= now

    async def set_offline(self, panel_id: str, gp_ids: list[str]) -> None:
        await self._presence.delete_many({"panel": panel_id, "gp": {"$in": gp_ids}})

    async def online(self, panel_id: str, now: datetime) -> list[str]:
        cursor = self._presence.find({"panel": panel_id, "until": {"$gt": now}})
        return sorted([doc["gp"] async for doc in cursor])

    async def is_online(self, panel_id: str, gp_id: str, now: datetime) -> bool:
        doc = await self._presence.find_one(
            {"_id": f"{panel_id}/{gp_id}", "until": {"$gt": now}}, projection={"_id": 1}
        )
        return doc is not None
