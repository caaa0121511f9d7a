"""One person's data across every collection: what the export reads, what erasure removes.

Every other store owns one collection family; this one is the exception on purpose:
the GDPR questions ("everything about this person", "forget this person") cut across
all of them, and answering them in one place is what lets the post-erasure scan
(tests/integration/test_erasure_scan.py) and docs/gdpr.md stay in step with the code.
A new collection that names people must get a line here, or the scan finds it.

What erasure keeps, and why, is docs/gdpr.md ("What is kept"): the audit log (its
hash chain must verify), payment records (accounting law), threads and messages that
other people also wrote in (their medical record), and reports other people filed
about the person (moderation). Those name the person by the former account id and
device ids only: random identifiers that, once the account document, e-mail, devices
and keys are gone, point at nobody.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary, ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.storage.attachments import CHUNK_BYTES
from chat_server.storage.campaigns import delivery_id
from chat_server.storage.change_counts import ChangeCount
from chat_server.storage.retired_keys import RetiredKeyStore

# Account fields never exported: credentials, not data about the person.
_SECRET_ACCOUNT_FIELDS = ("password_hash", "totp_secret", "totp_last_step")


def plain(value: Any) -> Any:
    """A stored value as JSON: times in ISO 8601, bytes in base64url (no padding)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Binary | bytes):
        return base64.urlsafe_b64encode(bytes(value)).rstrip(b"=").decode("ascii")
    if isinstance(value, ObjectId):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class Person:
    """The identifiers erasure looks for: the account, its address, all its devices."""

    account_id: str
    email: str
    device_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    thread: str
    uploader: str
    size: int


class PersonalDataStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self._retired = RetiredKeyStore(db)
        self._bucket = AsyncGridFSBucket(
            db, bucket_name="attachments", chunk_size_bytes=CHUNK_BYTES
        )

    async def person(self, account_id: str) -> Person | None:
        account = await self._db["accounts"].find_one({"_id": account_id}, {"email": 1})
        if account is None:
            return None
        devices = self._db["devices"].find({"account_id": account_id}, {"_id": 1})
        return Person(account_id, account["email"], tuple([d["_id"] async for d in devices]))

    # -- export ---------------------------------------------------------------------------

    async def _all(self, collection: str, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        cursor = self._db[collection].find(dict(query)).sort("_id", 1)
        return [doc async for doc in cursor]

    async def thread_ids(self, account_id: str) -> list[str]:
        """Every conversation the person is in: care threads, panel questions (asked,
        or held as a GP) and paid chats."""
        ids = {d["_id"] for d in await self._all("threads", {"participants": account_id})}
        asked = {"$or": [{"patient": account_id}, {"claimed_by": account_id}]}
        ids |= {d["_id"] for d in await self._all("panel_questions", asked)}
        ids |= {d["_id"] for d in await self._all("paid_chats", {"patient": account_id})}
        return sorted(ids)

    async def sections(self, person: Person) -> dict[str, Any]:
        """Everything stored about ``person`` but messages and files, as JSON."""
        me, devices = person.account_id, list(person.device_ids)
        account = await self._db["accounts"].find_one({"_id": me}) or {}
        for name in _SECRET_ACCOUNT_FIELDS:
            account.pop(name, None)
        backup = await self._db["key_backups"].find_one({"_id": me})
        sessions = await self._all("sessions", {"account_id": me})
        links = await self._all("care_links", {"$or": [{"patient_id": me}, {"provider_id": me}]})
        # Entries about the person: by them, on them, their devices and care links.
        subjects = [me, *devices, *(link["_id"] for link in links)]
        sections: dict[str, Any] = {
            "account": account,
            "devices": await self._all("devices", {"account_id": me}),
            "key_log": await self._all("key_log", {"account_id": me}),
            "key_backup": backup,
            # A session's id is its token's hash: only when and until when.
            "sessions": [
                {"created_at": s.get("created_at"), "expires_at": s.get("expires_at")}
                for s in sessions
            ],
            "consents": await self._all("consents", {"account": me}),
            "care_links": links,
            # Blocks the person made; who blocked them stays the blocker's business.
            "blocks": await self._all("blocks", {"blocker": me}),
            "reports_filed": await self._all("reports", {"reporter": me}),
            "paid_chats": await self._all("paid_chats", {"patient": me}),
            "panel_questions": await self._all("panel_questions", {"patient": me}),
            "mailing_deliveries": await self._all("campaign_deliveries", {"patient": me}),
            "roster_entries": await self._all("roster", {"email": person.email}),
            "read_marks": await self._all("read_marks", {"account": me}),
            "cursors": await self._all("cursors", {"device": {"$in": devices}}),
            "audit": await self._all(
                "audit_log",
                {"$or": [{"actor": me}, {"subject": {"$in": subjects}}]},
            ),
        }
        return {key: plain(value) for key, value in sections.items()}

    async def threads(self, thread_ids: list[str]) -> list[dict[str, Any]]:
        docs = {d["_id"]: d for d in await self._all("threads", {"_id": {"$in": thread_ids}})}
        questions = {
            d["_id"]: d for d in await self._all("panel_questions", {"_id": {"$in": thread_ids}})
        }
        out = []
        for thread_id in thread_ids:
            doc = docs.get(thread_id) or questions.get(thread_id) or {"_id": thread_id}
            kind = doc.get("kind") or ("panel" if thread_id in questions else "paid")
            out.append({"thread_id": thread_id, "kind": kind, "stored": plain(doc)})
        return out

    async def mailings(self, account_id: str) -> list[dict[str, Any]]:
        """The prevention mailings delivered to the person, each with the campaign's
        sealed body and the person's slips (what the announcements page serves), so
        their client can open the text offline."""
        deliveries = await self._all("campaign_deliveries", {"patient": account_id})
        delivered = [d for d in deliveries if d.get("state") == "delivered"]
        ids = [d["campaign"] for d in delivered]
        bodies = {
            d["_id"]: d.get("body") for d in await self._all("campaigns", {"_id": {"$in": ids}})
        }
        slips = {
            d["campaign"]: d.get("slips") or []
            for d in await self._all("campaign_recipients", {"patient": account_id})
        }
        return [
            plain(
                {
                    "campaign_id": d["campaign"],
                    "practice_id": d.get("practice"),
                    "delivered_at": d.get("at"),
                    "body": bodies.get(d["campaign"]),
                    "slips": slips.get(d["campaign"], []),
                }
            )
            for d in delivered
        ]

    async def senders(
        self, thread_ids: list[str], campaign_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """The public keys that signed the messages of these threads (and the bodies of
        these campaigns: every device of the member who created one): each sender
        device's certificate and its account's root key, so the archive can be
        verified offline (docs/gdpr.md). A sender whose account is gone has none."""
        pairs = await self._db["messages"].distinct(
            "sender_device", {"thread": {"$in": thread_ids}}
        )
        creators = await self._db["campaigns"].distinct(
            "created_by", {"_id": {"$in": campaign_ids or []}}
        )
        devices = await self._all(
            "devices", {"$or": [{"_id": {"$in": pairs}}, {"account_id": {"$in": creators}}]}
        )
        roots = {
            d["_id"]: d.get("root_key")
            for d in await self._all(
                "accounts", {"_id": {"$in": sorted({d["account_id"] for d in devices})}}
            )
        }
        return [
            {
                "account_id": d["account_id"],
                "device_id": d["_id"],
                "certificate": d["certificate"],
                "root_key": roots.get(d["account_id"]),
            }
            for d in devices
        ]

    async def messages(self, thread_id: str) -> AsyncIterator[dict[str, Any]]:
        cursor = self._db["messages"].find({"thread": thread_id}).sort("seq", 1)
        async for doc in cursor:
            doc.pop("_id", None)
            yield plain(doc)

    async def files(self, thread_ids: list[str], account_id: str) -> list[StoredFile]:
        """The attachments in the person's threads and the ones they uploaded."""
        query = {
            "$or": [{"metadata.thread": {"$in": thread_ids}}, {"metadata.uploader": account_id}]
        }
        cursor = self._db["attachments.files"].find(query).sort("_id", 1)
        return [
            StoredFile(
                d["_id"], d["metadata"].get("thread", ""), d["metadata"].get("uploader", ""),
                d["length"],
            )
            async for d in cursor
        ]  # fmt: skip

    async def file_chunks(self, file_id: str) -> AsyncIterator[bytes]:
        try:
            stream = await self._bucket.open_download_stream(file_id)
        except NoFile:
            return
        while chunk := await stream.readchunk():
            yield chunk

    # -- erasure --------------------------------------------------------------------------

    async def erase(self, person: Person) -> dict[str, int]:
        """Removes everything docs/gdpr.md does not list as kept; counts per collection.

        Idempotent: a job run again after a crash finds less to remove, never more.
        The account document stays (:meth:`forget_account` is the last step), so a
        crash midway leaves the identifiers a rerun needs.
        """
        me, devices, email = person.account_id, list(person.device_ids), person.email
        removed: dict[str, int] = {}

        async def drop(collection: str, query: Mapping[str, Any]) -> None:
            result = await self._db[collection].delete_many(dict(query))
            if result.deleted_count:
                removed[collection] = removed.get(collection, 0) + result.deleted_count

        released = await self._drop_own_threads(me, drop)
        if released:
            removed["retired_device_keys"] = released
        await self._retire_device_keys(me)
        for file_id in await self._uploaded_files(me):
            try:
                await self._bucket.delete(file_id)
            except NoFile:
                continue
            removed["attachments"] = removed.get("attachments", 0) + 1
        await drop("sessions", {"account_id": me})
        await drop("ws_tickets", {"account_id": me})
        await drop("one_time_codes", {"subject": {"$in": [me, email]}})
        await drop("key_backups", {"_id": me})
        await drop("key_log", {"account_id": me})
        await drop("cursors", {"device": {"$in": devices}})
        await drop("read_marks", {"account": me})
        await drop("consents", {"account": me})
        await drop("care_links", {"$or": [{"patient_id": me}, {"provider_id": me}]})
        await drop("blocks", {"$or": [{"blocker": me}, {"blocked": me}]})
        await drop("reports", {"reporter": me})
        await drop("campaign_recipients", {"patient": me})
        await drop("campaign_deliveries", {"patient": me})
        await drop("mailing_unsubscribe_tokens", {"patient": me})
        await drop("roster", {"email": email})
        await drop("notifications_sent", {"_id": {"$regex": f"^{_literal(me)}/"}})
        await drop("panel_presence", {"gp": me})
        await drop("panel_seats", {"_id": {"$regex": f"/{_literal(me)}$"}})
        await drop("jobs", {"payload.account": me, "kind": {"$ne": ERASE_JOB_KIND}})
        await self._move_campaign_cursors(me)
        for practice_role in ("admins", "practitioners", "staff"):
            await self._db["practices"].update_many(
                {practice_role: me}, {"$pull": {practice_role: me}}
            )
        await drop("devices", {"account_id": me})
        # Every process drops its cached device lists and threads within one poll
        # (storage/change_counts.py), so nobody keeps wrapping to the erased devices.
        await ChangeCount(self._db["device_changes"], "devices").bump()
        await ChangeCount(self._db["thread_changes"], "threads").bump()
        return removed

    async def _move_campaign_cursors(self, me: str) -> None:
        """A mailing's resume point (the last recipient done, in id order) may be the
        person's id, in a campaign of any state, running or paused included, and in its
        fan-out job's checkpoint. It moves back to the nearest recipient left before
        them (or to the start): with their own row gone (above), ``recipients_after``
        from there finds exactly the rows it found from them, so nothing is sent twice
        or skipped."""
        async for campaign in self._db["campaigns"].find({"cursor": me}, {"_id": 1}):
            campaign_id = campaign["_id"]
            previous = await self._db["campaign_recipients"].find_one(
                {"campaign": campaign_id, "_id": {"$lt": delivery_id(campaign_id, me)}},
                {"patient": 1},
                sort=[("_id", -1)],
            )
            cursor = previous["patient"] if previous else None
            await self._db["campaigns"].update_one(
                {"_id": campaign_id, "cursor": me}, {"$set": {"cursor": cursor}}
            )
            await self._db["jobs"].update_many(
                {"payload.campaign": campaign_id, "cursor": me}, {"$set": {"cursor": cursor}}
            )

    async def _retire_device_keys(self, me: str) -> None:
        """Keeps, for the threads that stay, the public keys that verify the person's
        messages in them (storage/retired_keys.py says what and why); run after the
        person's own threads went and before their key log goes."""
        retained = sorted(await self._db["messages"].distinct("thread", {"sender_account": me}))
        if not retained:
            return
        signers = await self._db["messages"].distinct(
            "sender_device", {"thread": {"$in": retained}, "sender_account": me}
        )
        entries = (
            self._db["key_log"]
            .find(
                {"account_id": me, "event": "device_added", "device_id": {"$in": signers}},
                {"_id": 0, "seq": 1, "at": 1, "event": 1, "device_id": 1, "certificate": 1},
            )
            .sort("seq", 1)
        )
        account = await self._db["accounts"].find_one({"_id": me}, {"root_key": 1}) or {}
        await self._retired.keep(me, account.get("root_key"), [e async for e in entries], retained)

    async def forget_account(self, account_id: str) -> None:
        """The last step: the account document, which ``person`` is read from."""
        await self._db["accounts"].delete_one({"_id": account_id})

    async def _drop_own_threads(self, me: str, drop: Any) -> int:
        """Conversations that are nobody else's record go entirely; the others stay
        (see above). With them go the kept keys of people erased before, which only
        these conversations still needed (storage/retired_keys.py): returns how many
        such records went."""
        released = 0
        for thread_id in await self.thread_ids(me):
            if await self._someone_elses_record(me, thread_id):
                continue
            await drop("messages", {"thread": thread_id})
            released += await self._retired.release(thread_id)
            await drop("threads", {"_id": thread_id})
            await drop("panel_ratings", {"_id": thread_id})
            # A paid chat's question stays with its payment record.
            if await self._db["paid_chats"].find_one({"_id": thread_id}, {"_id": 1}) is None:
                await drop("panel_questions", {"_id": thread_id})
        return released

    async def _someone_elses_record(self, me: str, thread_id: str) -> bool:
        """Whether the conversation stays: someone else wrote in it, and someone other
        than the person still has an account among those who wrote or take part (a
        practice colleague keeps the practice's record). Once everyone else who wrote
        was erased and no participant is left, it is nobody's record any more."""
        writers = set(await self._db["messages"].distinct("sender_account", {"thread": thread_id}))
        writers.discard(me)
        if not writers:
            return False
        readers = set(writers)
        thread = await self._db["threads"].find_one({"_id": thread_id}, {"participants": 1})
        readers.update((thread or {}).get("participants") or [])
        question = await self._db["panel_questions"].find_one(
            {"_id": thread_id}, {"patient": 1, "claimed_by": 1}
        )
        readers.update(v for k, v in (question or {}).items() if k != "_id" and v)
        readers.discard(me)
        alive = await self._db["accounts"].find_one({"_id": {"$in": sorted(readers)}}, {"_id": 1})
        return alive is not None

    async def _uploaded_files(self, me: str) -> list[str]:
        cursor = self._db["attachments.files"].find({"metadata.uploader": me}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]


# Named here (not imported from the handler) so storage stays below handlers: the
# erasure job's own document must survive the erasure it carries out.
ERASE_JOB_KIND = "erase_account"


def _literal(text: str) -> str:
    """``text`` safe inside a regular expression (ids are base64url, but be sure)."""
    return "".join(f"\\{c}" if not c.isalnum() else c for c in text)
