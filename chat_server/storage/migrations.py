"""What ``carechat migrate`` does to the database: indexes, then data migrations.

Each data migration brings documents written by older versions under today's rules,
and is idempotent: a second run finds nothing left to change (its counts say 0), so
an interrupted run is simply run again. Run it before starting servers of the new
version; a running server may keep a changed thread in its cache for up to 30 s.

Unsigned practice members
    Before membership lists were consented and signed, a practice admin wrote
    ``practitioners`` and ``staff`` directly, and those accounts became participants
    of the practice's threads without consenting and without the patient's client
    being able to check them. Today only a list signed by the admin's root key makes
    anyone a member. A practice without one keeps no practitioners or staff (they
    must accept an invitation and be signed into a list), and each live thread's
    participants are recomputed from the rule threads follow today: the patient, and
    the practitioner of a practitioner's thread or the signed members of a practice.

Mailing opt-outs into consents
    Prevention mailings once kept their own opt-outs (``mailing_opt_outs``, one per
    practice and patient). Receiving them is now the patient's consent, purpose
    ``prevention_mailings`` scoped by the practice, and the fan-out reads nothing
    else. Each opt-out becomes a revocation in ``consents`` with the opt-out's time
    (its ``_id`` derived from the pair, so a second run adds nothing), then the old
    collection is dropped. A patient who never opted out gets no record: mailings
    are opt-in now, and they receive none until they consent (docs/mailings.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from chat_server.clock import Clock
from chat_server.model.threads import LIVE_CARE_STATES
from chat_server.storage.consents import consent_document
from chat_server.storage.indexes import ensure_indexes
from chat_server.storage.practices import ProviderKind
from chat_server.storage.threads import thread_from_doc
from moderation.consents import TEXT_VERSIONS, ConsentAction, ConsentRecord, Purpose

log = logging.getLogger(__name__)

# A practice that has never published a signed list (the field is null or absent).
_UNSIGNED: dict[str, Any] = {"membership": None}


@dataclass(frozen=True, slots=True)
class UnsignedMembers:
    practices: int  # practices whose unsigned practitioners and staff were dropped
    threads: int  # live threads whose participants were recomputed


async def migrate(db: AsyncDatabase[dict[str, Any]], clock: Clock) -> UnsignedMembers:
    """Everything ``carechat migrate`` does, in order."""
    await ensure_indexes(db)
    counts = await drop_unsigned_members(db, clock)
    # Counts only: which practices and threads changed is nobody's business in a log.
    log.info(
        "unsigned practice members dropped",
        extra={"fields": {"practices": counts.practices, "threads": counts.threads}},
    )
    moved = await move_mailing_opt_outs(db)
    log.info("mailing opt-outs moved into consents", extra={"fields": {"opt_outs": moved}})
    return counts


_OPT_OUTS = "mailing_opt_outs"
_BATCH = 1000


async def move_mailing_opt_outs(db: AsyncDatabase[dict[str, Any]]) -> int:
    """Each ``mailing_opt_outs`` row as a revocation of that practice's mailing
    consent; returns how many revocations were added (0 on a second run)."""
    if _OPT_OUTS not in await db.list_collection_names(filter={"name": _OPT_OUTS}):
        return 0
    purpose = Purpose.PREVENTION_MAILINGS
    added = 0
    batch: list[dict[str, Any]] = []

    async def flush() -> int:
        if not batch:
            return 0
        try:
            result = await db["consents"].insert_many(batch, ordered=False)
            inserted = len(result.inserted_ids)
        except BulkWriteError as exc:  # an interrupted run's rows: already moved
            if any(e["code"] != 11000 for e in exc.details["writeErrors"]):
                raise
            inserted = exc.details["nInserted"]
        batch.clear()
        return inserted

    async for row in db[_OPT_OUTS].find({}):
        record = ConsentRecord(
            account=row["patient"],
            purpose=purpose,
            scope=row["practice"],
            action=ConsentAction.REVOKE,
            version=TEXT_VERSIONS[purpose],
            at=row["at"],
        )
        batch.append({"_id": f"opt-out:{row['_id']}", **consent_document(record)})
        if len(batch) >= _BATCH:
            added += await flush()
    added += await flush()
    await db.drop_collection(_OPT_OUTS)
    return added


async def drop_unsigned_members(db: AsyncDatabase[dict[str, Any]], clock: Clock) -> UnsignedMembers:
    practices = db["practices"]
    stripped = await practices.update_many(
        {
            **_UNSIGNED,
            "$or": [{"practitioners.0": {"$exists": True}}, {"staff.0": {"$exists": True}}],
        },
        {"$set": {"practitioners": [], "staff": []}},
    )
    # Every unsigned practice, not just those stripped now: a run interrupted between
    # the two steps must still fix the threads when it is run again.
    unsigned = {doc["_id"] async for doc in practices.find(_UNSIGNED, {"_id": 1})}
    threads = db["threads"]
    live = {"$in": [str(state) for state in LIVE_CARE_STATES]}
    # Threads with anyone beyond the patient and a practitioner's thread's practitioner.
    crowded = [
        {"provider_kind": str(ProviderKind.PRACTITIONER), "participants.2": {"$exists": True}},
        {"provider_kind": str(ProviderKind.PRACTICE), "participants.1": {"$exists": True}},
    ]
    recomputed = 0
    async for doc in threads.find({"state": live, "$or": crowded}):
        thread = thread_from_doc(doc)
        members: dict[str, str]
        if thread.provider_kind == ProviderKind.PRACTITIONER:
            members = {thread.provider_id: "practitioner"}
        elif thread.provider_id in unsigned:
            members = {}
        else:
            continue  # a signed list: publishing it recomputed the practice's threads
        roles = {thread.patient_id: "patient", **members}
        participants = [thread.patient_id, *sorted(members)]
        if set(participants) == set(thread.participants) and roles == thread.roles:
            continue
        # Only if nothing changed the thread meanwhile (a list published while we
        # ran); a thread skipped that way already follows today's rule.
        result = await threads.update_one(
            {"_id": thread.id, "state": live, "participants": doc["participants"]},
            {"$set": {"participants": participants, "roles": roles, "updated_at": clock.now()}},
        )
        recomputed += result.modified_count
    return UnsignedMembers(stripped.modified_count, recomputed)
