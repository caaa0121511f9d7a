"""``carechat migrate`` moves the prevention mailings' own opt-outs (``mailing_opt_outs``)
into the patients' consents: each becomes a revocation with the opt-out's time, the
old collection goes, and a second (or an interrupted and repeated) run adds nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.appkeys import CONSENTS
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.storage.migrations import migrate, move_mailing_opt_outs
from moderation.consents import TEXT_VERSIONS, Purpose
from tests.actors import actor
from tests.mailings import grant_mailings
from tests.practices import create_practice

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]
MAILINGS = Purpose.PREVENTION_MAILINGS


async def test_legacy_opt_outs_become_revocations_and_the_old_collection_goes(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin = await actor(client, outbox, "admin@practice.example", "practice_admin")
    ann = await actor(client, outbox, "ann@example.org")
    bob = await actor(client, outbox, "bob@example.org")
    cid = await actor(client, outbox, "cid@example.org")
    practice = await create_practice(admin, "Practice")
    other = await create_practice(admin, "Other practice")
    opted_out_at = clock.now() - timedelta(days=30)
    # As the versions before consents wrote them (storage/mailing_consent.py then).
    await db["mailing_opt_outs"].insert_many(
        [
            {"_id": f"{p}:{a.account_id}", "practice": p, "patient": a.account_id,
             "at": opted_out_at, "via": via}
            for p, a, via in [
                (practice, ann, "one_click"), (practice, bob, "settings"), (other, cid, "settings")
            ]
        ]
    )  # fmt: skip
    # Bob consented since (through the consents API): his latest word stands.
    await grant_mailings(bob, practice)
    await grant_mailings(cid, practice)
    # A run interrupted after writing Ann's revocation left it there.
    await db["consents"].insert_one(
        {"_id": f"opt-out:{practice}:{ann.account_id}", "account": ann.account_id,
         "purpose": "prevention_mailings", "scope": practice, "action": "revoke",
         "version": TEXT_VERSIONS[MAILINGS], "at": opted_out_at}
    )  # fmt: skip

    await migrate(db, clock)

    assert "mailing_opt_outs" not in await db.list_collection_names()
    consents = client.app[CONSENTS]
    patients = [ann.account_id, bob.account_id, cid.account_id]
    assert await consents.mailing_recipients(practice, patients) == [
        bob.account_id,
        cid.account_id,
    ]
    assert await consents.mailing_recipients(other, patients) == []
    history = (await cid.call("GET", "/api/v1/consents"))["history"]
    assert [(r["scope"], r["action"], r["version"]) for r in history] == [
        (other, "revoke", TEXT_VERSIONS[MAILINGS]),  # the opt-out, at its own time
        (practice, "grant", TEXT_VERSIONS[MAILINGS]),
    ]
    assert history[0]["at"] == opted_out_at.isoformat()
    ann_history = (await ann.call("GET", "/api/v1/consents"))["history"]
    assert [(r["scope"], r["action"]) for r in ann_history] == [(practice, "revoke")]
    # A second run: nothing left to move, nothing written, nothing recreated.
    before = await db["consents"].count_documents({})
    assert await move_mailing_opt_outs(db) == 0
    await migrate(db, clock)
    assert await db["consents"].count_documents({}) == before == 5
    assert "mailing_opt_outs" not in await db.list_collection_names()


async def test_an_interrupted_move_counts_only_what_it_adds(db: Db, clock: ManualClock) -> None:
    at = clock.now()
    rows = [
        {"_id": f"p1:a{n}", "practice": "p1", "patient": f"a{n}", "at": at, "via": "settings"}
        for n in range(1500)  # more than one batch
    ]
    await db["mailing_opt_outs"].insert_many(rows)
    await db["consents"].insert_one(
        {"_id": "opt-out:p1:a7", "account": "a7", "purpose": "prevention_mailings",
         "scope": "p1", "action": "revoke", "version": TEXT_VERSIONS[MAILINGS], "at": at}
    )  # fmt: skip
    assert await move_mailing_opt_outs(db) == 1499
    assert await db["consents"].count_documents({"action": "revoke", "scope": "p1"}) == 1500
