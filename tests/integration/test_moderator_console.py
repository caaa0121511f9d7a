"""The moderator console's endpoints: deciding reports, looking accounts up, searching
and verifying the audit log, failed jobs. Platform admins only, on every request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.jobs.store import JobStore
from chat_server.mail import MemoryOutbox
from tests.actors import actor
from tests.integration.test_care_threads import _setup
from tests.integration.test_reports import _report, _revealed
from tests.integration.test_sanctions import _moderator
from tests.messaging import by_device

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]

ADMIN_ROUTES: tuple[tuple[str, str, dict[str, str] | None], ...] = (
    ("POST", "/api/v1/admin/reports/r1/resolve", {"reason": "no_violation"}),
    ("POST", "/api/v1/admin/reports/r1/dismiss", {"reason": "no_violation"}),
    ("POST", "/api/v1/admin/accounts/lookup", {"email": "ann@example.org"}),
    ("POST", "/api/v1/admin/audit/search", {}),
    ("POST", "/api/v1/admin/audit/verify", None),
    ("GET", "/api/v1/admin/jobs", None),
    ("POST", "/api/v1/admin/jobs/j1/retry", None),
)


async def test_only_platform_admins_reach_the_console(client: Client, outbox: MemoryOutbox) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    ann = await actor(client, outbox, "ann@example.org")
    for method, path, body in ADMIN_ROUTES:
        for someone in (doctor, ann):
            refused = await someone.call(method, path, body, expect=403)
            assert refused["code"] == "forbidden"
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status == 401


async def test_a_verified_report_is_resolved_once_with_a_reason(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    moderator = await _moderator(client, db, clock)
    doctor, ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await ann_phone.send_text(thread_id, "You are useless, I will find you", everyone)
    await ann_phone.send_text(thread_id, "A second message", everyone)
    first = await doc_pc.next_of("msg", seq=1)
    second = await doc_pc.next_of("msg", seq=2)
    body, key = _revealed(doc_pc, first, by_device(everyone))
    filed = await doctor.call("POST", "/api/v1/reports", _report(thread_id, 1, body, key), 201)
    _, key2 = _revealed(doc_pc, second, by_device(everyone))
    clock.advance(1)
    forged = await doctor.call(
        "POST", "/api/v1/reports", _report(thread_id, 2, b"forged", key2), 201
    )

    [newest, oldest] = (await moderator.call("GET", "/api/v1/admin/reports"))["reports"]
    assert (newest["report_id"], newest["verification"]) == (forged["report_id"], "unverifiable")
    assert (oldest["report_id"], oldest["verification"]) == (filed["report_id"], "verified")

    path = f"/api/v1/admin/reports/{filed['report_id']}"
    for bad in ({}, {"reason": "because"}, {"reason": "no_violation", "note": "x"}):
        await moderator.call("POST", f"{path}/resolve", bad, expect=422)
    await moderator.call("POST", f"{path}/resolve", {"reason": "action_taken"}, expect=204)
    twice = await moderator.call("POST", f"{path}/dismiss", {"reason": "duplicate"}, expect=409)
    assert twice["code"] == "report_already_decided"
    missing = await moderator.call(
        "POST", "/api/v1/admin/reports/nosuchreport/dismiss", {"reason": "duplicate"}, 404
    )
    assert missing["code"] == "not_found"
    await moderator.call(
        "POST",
        f"/api/v1/admin/reports/{forged['report_id']}/dismiss",
        {"reason": "unverifiable"},
        expect=204,
    )
    assert (await moderator.call("GET", "/api/v1/admin/reports"))["reports"] == []

    # Both decisions are in the audit log, with their reason codes.
    found = await moderator.call(
        "POST", "/api/v1/admin/audit/search", {"actor": moderator.account_id}
    )
    decided = [(e["action"], e["subject"], e["details"]) for e in found["entries"]][:2]
    assert decided == [
        ("report_dismissed", forged["report_id"], {"reason": "unverifiable"}),
        ("report_resolved", filed["report_id"], {"reason": "action_taken"}),
    ]

    # The account look-up lists the reports naming ann as the sender, and how they stand.
    looked = await moderator.call(
        "POST", "/api/v1/admin/accounts/lookup", {"account_id": ann.account_id}
    )
    assert [(r["report_id"], r["status"], r["verification"]) for r in looked["reports"]] == [
        (forged["report_id"], "dismissed", "unverifiable"),
        (filed["report_id"], "resolved", "verified"),
    ]
    assert looked["devices"] == 1
    assert "body" not in looked["reports"][0]  # the revealed text stays in the queue


async def test_account_lookup_by_id_or_email_with_sanctions(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    moderator = await _moderator(client, db, clock)
    mallory = await actor(client, outbox, "mallory@example.org")
    lookup = "/api/v1/admin/accounts/lookup"
    for bad in (
        {},
        {"email": "mallory@example.org", "account_id": mallory.account_id},
        {"account_id": "not an id"},
        {"email": 7},
    ):
        await moderator.call("POST", lookup, bad, expect=422)
    # The same 404 for an unknown id and an unknown address.
    for unknown in ({"account_id": "nobody"}, {"email": "nobody@example.org"}):
        assert (await moderator.call("POST", lookup, unknown, 404))["code"] == "not_found"

    sanction = f"/api/v1/admin/accounts/{mallory.account_id}"
    await moderator.call("POST", f"{sanction}/warn", {"reason": "spam"}, 204)
    clock.advance(60)
    await moderator.call(
        "POST", f"{sanction}/suspend", {"reason": "threats", "note": "Read the terms."}, 204
    )
    by_email = await moderator.call("POST", lookup, {"email": " Mallory@Example.org "})
    by_id = await moderator.call("POST", lookup, {"account_id": mallory.account_id})
    assert by_email == by_id
    assert by_id["account_id"] == mallory.account_id
    assert (by_id["status"], by_id["role"], by_id["devices"]) == ("suspended", "patient", 0)
    assert [(s["action"], s["reason"], s["note"]) for s in by_id["sanctions"]] == [
        ("suspend", "threats", "Read the terms."),
        ("warn", "spam", ""),
    ]
    assert by_id["reports"] == []
    # A look-up is itself audited.
    looked = await moderator.call(
        "POST",
        "/api/v1/admin/audit/search",
        {"action": "data_access", "subject": mallory.account_id},
    )
    assert len(looked["entries"]) == 2
    assert {e["details"]["what"] for e in looked["entries"]} == {"account_lookup"}


async def test_audit_search_filters_pages_and_verifies_the_chain(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    moderator = await _moderator(client, db, clock)
    start = clock.now()
    mallory = await actor(client, outbox, "mallory@example.org")
    sanction = f"/api/v1/admin/accounts/{mallory.account_id}"
    for _ in range(5):
        clock.advance(3600)
        await moderator.call("POST", f"{sanction}/warn", {"reason": "spam"}, 204)
    search = "/api/v1/admin/audit/search"

    warned = {"action": "account_warned", "subject": mallory.account_id}
    page = await moderator.call("POST", search, {**warned, "limit": 2})
    seqs = [e["seq"] for e in page["entries"]]
    assert len(seqs) == 2
    assert seqs[0] > seqs[1]
    assert page["before"] == seqs[1]
    rest = await moderator.call("POST", search, {**warned, "limit": 2, "before": page["before"]})
    last = await moderator.call("POST", search, {**warned, "limit": 2, "before": rest["before"]})
    assert len(rest["entries"]) == 2
    assert len(last["entries"]) == 1
    assert "before" not in last
    assert {e["actor"] for e in page["entries"] + rest["entries"] + last["entries"]} == {
        moderator.account_id
    }
    assert "ip_hash" not in page["entries"][0]

    # A time range: [since, until), in whole hours after the start.
    window = {
        **warned,
        "since": (start + timedelta(hours=2)).isoformat(),
        "until": (start + timedelta(hours=4)).isoformat(),
    }
    assert len((await moderator.call("POST", search, window))["entries"]) == 2
    for bad in (
        {"action": "no_such_action"},
        {"since": "2026-01-01T00:00:00"},  # no time zone
        {"since": window["until"], "until": window["since"]},
        {"limit": 0},
        {"limit": 101},
        {"before": 0},
        {"actor": "x" * 65},
    ):
        assert (await moderator.call("POST", search, bad, 422))["code"] == "validation_failed"

    verified = await moderator.call("POST", "/api/v1/admin/audit/verify")
    assert verified["ok"] is True
    assert verified["entries"] == await db["audit_log"].count_documents({})
    assert "broken" not in verified

    # Someone with database access rewrites an entry: the first broken link is named.
    target = page["entries"][1]["seq"]
    await db["audit_log"].update_one({"seq": target}, {"$set": {"details.reason": "mistake"}})
    broken = await moderator.call("POST", "/api/v1/admin/audit/verify")
    assert broken["ok"] is False
    assert broken["broken"] == {"seq": target, "reason": "hash mismatch"}


async def test_failed_jobs_are_listed_without_payloads_and_retried(
    client: Client, db: Db, clock: ManualClock
) -> None:
    moderator = await _moderator(client, db, clock)
    store = JobStore(db)
    now = clock.now()
    failed_id = await store.enqueue(
        "notify", {"account": "patient-secret-id"}, now=now, run_at=now, max_attempts=3
    )
    due_id = await store.enqueue("notify", {}, now=now, run_at=now, max_attempts=3)
    assert failed_id is not None
    assert due_id is not None
    await store.fail(failed_id, None, now=now, error="ServerSelectionTimeoutError")

    [listed] = (await moderator.call("GET", "/api/v1/admin/jobs"))["jobs"]
    assert listed["job_id"] == failed_id
    assert (listed["kind"], listed["state"], listed["error"]) == (
        "notify",
        "failed",
        "ServerSelectionTimeoutError",
    )
    assert "payload" not in listed
    assert "patient-secret-id" not in str(listed)

    retried = await moderator.call("POST", f"/api/v1/admin/jobs/{failed_id}/retry")
    assert (retried["state"], retried["attempts"]) == ("due", 0)
    job = await store.get(failed_id)
    assert job is not None
    assert job.run_at == now
    assert (await moderator.call("GET", "/api/v1/admin/jobs"))["jobs"] == []
    again = await moderator.call("POST", f"/api/v1/admin/jobs/{failed_id}/retry", expect=409)
    assert again["code"] == "job_not_failed"
    await moderator.call("POST", f"/api/v1/admin/jobs/{due_id}/retry", expect=409)
    await moderator.call("POST", "/api/v1/admin/jobs/nosuchjob/retry", expect=404)
    audited = await moderator.call("POST", "/api/v1/admin/audit/search", {"action": "job_retried"})
    assert [(e["subject"], e["details"]) for e in audited["entries"]] == [
        (failed_id, {"kind": "notify"})
    ]
