"""Consents per purpose: versioned, revocable, recorded with time and text version,
and enforced (a report to the GP, a practice's mailing)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.appkeys import CONSENTS
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from e2e_crypto.envelope import seal_message
from e2e_crypto.wire import Kind, to_base64url
from moderation.consents import TEXT_VERSIONS, Purpose
from tests.actors import actor
from tests.integration.test_care_threads import _setup
from tests.messaging import new_cmid
from tests.practices import create_practice

Client = TestClient[web.Request, web.Application]
VERSION = TEXT_VERSIONS[Purpose.REPORT_TO_GP]


async def test_consents_are_versioned_revocable_and_kept_as_history(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    grant = {"purpose": "report_to_gp", "version": VERSION}
    refused = await doctor.call("POST", "/api/v1/consents", grant, expect=403)
    assert refused["code"] == "patients_only"
    old = await ann.call("POST", "/api/v1/consents", grant | {"version": "2020-01"}, expect=409)
    assert old["code"] == "consent_text_outdated"
    scoped = await ann.call("POST", "/api/v1/consents", grant | {"scope": "x"}, expect=422)
    assert list(scoped["fields"]) == ["scope"]
    await ann.call("POST", "/api/v1/consents/revoke", {"purpose": "report_to_gp"}, expect=404)

    await ann.call("POST", "/api/v1/consents", grant, expect=204)
    clock.advance(60)
    await ann.call("POST", "/api/v1/consents/revoke", {"purpose": "report_to_gp"}, expect=204)
    clock.advance(60)
    await ann.call("POST", "/api/v1/consents", grant, expect=204)
    state = await ann.call("GET", "/api/v1/consents")
    assert state["text_versions"]["report_to_gp"] == VERSION
    assert [(c["purpose"], c["version"]) for c in state["current"]] == [("report_to_gp", VERSION)]
    history = [(h["action"], h["version"], h["at"]) for h in state["history"]]
    assert [h[:2] for h in history] == [("grant", VERSION), ("revoke", VERSION), ("grant", VERSION)]
    assert len({h[2] for h in history}) == 3  # each with its own time


async def test_a_practice_mailing_reaches_only_patients_who_consent_for_it(
    client: Client, outbox: MemoryOutbox
) -> None:
    admin = await actor(client, outbox, "admin@example.org", "practice_admin")
    practice_id = await create_practice(admin)
    other_id = await create_practice(admin, "Elsewhere")
    ann = await actor(client, outbox, "ann@example.org")
    bob = await actor(client, outbox, "bob@example.org")
    cid = await actor(client, outbox, "cid@example.org")
    version = TEXT_VERSIONS[Purpose.PREVENTION_MAILINGS]
    mailing = {"purpose": "prevention_mailings", "version": version}
    unscoped = await ann.call("POST", "/api/v1/consents", mailing, expect=422)
    assert list(unscoped["fields"]) == ["scope"]
    await ann.call("POST", "/api/v1/consents", mailing | {"scope": "nope"}, expect=404)
    await ann.call("POST", "/api/v1/consents", mailing | {"scope": practice_id}, expect=204)
    await bob.call("POST", "/api/v1/consents", mailing | {"scope": other_id}, expect=204)
    await cid.call("POST", "/api/v1/consents", mailing | {"scope": practice_id}, expect=204)
    await cid.call(
        "POST",
        "/api/v1/consents/revoke",
        {"purpose": "prevention_mailings", "scope": practice_id},
        expect=204,
    )
    consents = client.app[CONSENTS]
    patients = [ann.account_id, bob.account_id, cid.account_id]
    assert await consents.mailing_recipients(practice_id, patients) == [ann.account_id]
    assert await consents.mailing_recipients(other_id, patients) == [bob.account_id]


async def test_the_one_click_stop_records_one_revocation_even_without_a_grant(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    admin = await actor(client, outbox, "admin@example.org", "practice_admin")
    practice_id = await create_practice(admin)
    ann = await actor(client, outbox, "ann@example.org")
    consents = client.app[CONSENTS]
    for _ in range(2):  # mailbox providers retry: the second changes nothing
        await consents.stop_mailings(ann.account_id, practice_id)
        clock.advance(5)
    history = (await ann.call("GET", "/api/v1/consents"))["history"]
    version = TEXT_VERSIONS[Purpose.PREVENTION_MAILINGS]
    assert [(r["purpose"], r["scope"], r["action"], r["version"]) for r in history] == [
        ("prevention_mailings", practice_id, "revoke", version)
    ]
    assert await consents.mailing_recipients(practice_id, [ann.account_id]) == []


async def test_a_report_to_the_gp_needs_the_patients_consent(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")

    async def send_report() -> dict[str, Any]:
        cmid = new_cmid()
        envelope = seal_message(
            doc_pc.keys,
            thread_id=thread_id,
            client_msg_id=cmid,
            body=b"opaque to the server",
            to_devices=everyone,
            kind=Kind.REPORT_TO_GP,
        )
        frame = {
            "type": "send",
            "thread": thread_id,
            "client_msg_id": cmid,
            "envelope": to_base64url(envelope),
        }
        return await doc_pc.request(frame)

    refused = await send_report()
    assert (refused["type"], refused["code"]) == ("error", "consent_required")
    # An ordinary message needs no such consent.
    assert (await doc_pc.send_text(thread_id, "How are you?", everyone))["type"] == "ack"

    await ann.call("POST", "/api/v1/consents", {"purpose": "report_to_gp", "version": VERSION}, 204)
    assert (await send_report())["type"] == "ack"
    delivered = await ann_phone.next_of("msg", seq=2)
    assert delivered["kind"] == "report_to_gp"

    await ann.call("POST", "/api/v1/consents/revoke", {"purpose": "report_to_gp"}, 204)
    assert (await send_report())["code"] == "consent_required"
