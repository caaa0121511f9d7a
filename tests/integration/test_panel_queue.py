"""The GP panel's queue: asking, claiming, answering, rating; caps, duplicates, presence."""

from __future__ import annotations

import io
import logging
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.logs import configure_logging
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from e2e_crypto.envelope import open_message
from e2e_crypto.groups import open_epoch_key
from e2e_crypto.wire import GroupRef, from_base64url
from tests.actors import Actor, actor, app_client, login
from tests.integration.test_privacy_and_files import (
    CANARY,
    _all_documents_text,
    _redis_text,
)
from tests.panels import (
    PanelHandle,
    answer,
    ask,
    create_panel,
    gp,
    online,
    patient,
    question_id,
    seal,
    verified,
)
from tests.practices import platform_admin
from tests.services import Services

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def _setup(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock, gps: int = 2, **settings: Any
) -> tuple[PanelHandle, list[Actor]]:
    platform = await platform_admin(client, db, clock)
    doctors = [await gp(client, outbox, platform, f"gp{i}@example.org") for i in range(gps)]
    panel = await create_panel(doctors[0], doctors, **settings)
    return panel, doctors


async def test_a_question_is_asked_claimed_answered_read_and_rated(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    panel, (dr_a, dr_b) = await _setup(client, outbox, db, clock)
    alice = await patient(client, outbox, "alice@example.org")
    asked = await ask(alice, panel, b"Fever 38.5 since Tuesday; intake: 16_64, fever")
    qid = asked["question_id"]
    assert asked["state"] == "queued"
    assert asked["position"] == 1
    assert asked["estimate_seconds"] is None  # nobody online, no history: no guess

    # Offline GPs are offered nothing and cannot claim.
    assert (await dr_a.call("GET", "/api/v1/panels/covid/queue"))["queued"] == []
    refused = await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=409)
    assert refused["code"] == "not_online"
    await online(dr_a)
    queue = await dr_a.call("GET", "/api/v1/panels/covid/queue")
    assert [q["question_id"] for q in queue["queued"]] == [qid]
    claimed = await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    assert claimed["question_id"] == qid
    assert claimed["claimed_by"] == dr_a.account_id

    # The GP reads the question with the panel's epoch key; the patient with her device.
    [question] = (await dr_a.call("GET", f"/api/v1/panel-questions/{qid}/messages"))["messages"]
    key = open_epoch_key(panel.current, next(iter(dr_a.devices.values())))
    [alice_phone] = verified(alice)
    opened = open_message(
        from_base64url(question["envelope"]),
        opener=key,
        sender=alice_phone,
        thread_id=qid,
        client_msg_id="q1",
        group=GroupRef("covid", 1),
    )
    assert opened.body.startswith(b"Fever 38.5")

    # Only the holder answers; the answer opens the follow-up window.
    other = await answer(dr_b, panel, qid, verified(alice), expect=409)
    assert other["code"] == "question_not_held"
    await answer(dr_a, panel, qid, verified(alice))
    status = await alice.call("GET", f"/api/v1/panel-questions/{qid}")
    assert status["state"] == "answered"
    assert status["answered_by"] == dr_a.account_id
    messages = (await alice.call("GET", f"/api/v1/panel-questions/{qid}/messages"))["messages"]
    assert [m["seq"] for m in messages] == [1, 2]
    [doctor_desk] = verified(dr_a)
    reply = open_message(
        from_base64url(messages[1]["envelope"]),
        opener=next(iter(alice.devices.values())),
        sender=doctor_desk,
        thread_id=qid,
        client_msg_id="a1",
        group=GroupRef("covid", 1),
    )
    assert reply.body.startswith(b"Rest, fluids")

    # A patient rates once; the panel sees its average and count.
    out_of_range = await alice.call(
        "POST", f"/api/v1/panel-questions/{qid}/rating", {"score": 6}, expect=422
    )
    assert out_of_range["fields"] == {"score": ["an integer from 1 to 5"]}
    await alice.call("POST", f"/api/v1/panel-questions/{qid}/rating", {"score": 4}, expect=204)
    again = await alice.call(
        "POST", f"/api/v1/panel-questions/{qid}/rating", {"score": 5}, expect=409
    )
    assert again["code"] == "already_rated"
    stats = await dr_b.call("GET", "/api/v1/panels/covid/stats")
    assert stats["rating_average"] == 4.0
    assert stats["rating_count"] == 1
    assert stats["answered_per_hour"] == 1.0
    assert stats["gps_online"] == 1
    assert stats["queued"] == 0
    assert stats["oldest_wait_seconds"] is None
    # No stranger sees the question or the panel's figures.
    mallory = await actor(client, outbox, "mallory@example.org")
    await mallory.call("GET", f"/api/v1/panel-questions/{qid}", expect=404)
    await mallory.call("GET", f"/api/v1/panel-questions/{question_id()}", expect=404)
    await mallory.call("GET", "/api/v1/panels/covid/stats", expect=404)


async def test_the_panel_reads_its_ratings_and_opens_their_sealed_comments(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    panel, (dr_a, dr_b) = await _setup(client, outbox, db, clock)
    alice = await patient(client, outbox, "alice@example.org")
    qid = (await ask(alice, panel))["question_id"]
    await online(dr_a)
    await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    await answer(dr_a, panel, qid, verified(alice))
    comment = seal(
        alice,
        qid,
        "rating",
        b"Very clear, thank you",
        patient_devices=verified(alice),
        epoch=panel.current,
    )
    await alice.call(
        "POST",
        f"/api/v1/panel-questions/{qid}/rating",
        {"score": 4, "comment": {"client_msg_id": "rating", "envelope": comment}},
        expect=204,
    )
    # Any GP of the panel reads it, not only the one who answered.
    [rating] = (await dr_b.call("GET", "/api/v1/panels/covid/ratings"))["ratings"]
    assert (rating["question_id"], rating["patient_id"], rating["score"]) == (
        qid,
        alice.account_id,
        4,
    )
    [alice_phone] = verified(alice)
    opened = open_message(
        from_base64url(rating["comment"]),
        opener=open_epoch_key(panel.current, next(iter(dr_b.devices.values()))),
        sender=alice_phone,
        thread_id=qid,
        client_msg_id="rating",
        group=GroupRef("covid", 1),
    )
    assert opened.body == b"Very clear, thank you"
    # Not the patients', nor anyone else's.
    for outsider in (alice, await actor(client, outbox, "mallory@example.org")):
        await outsider.call("GET", "/api/v1/panels/covid/ratings", expect=404)


async def test_a_duplicate_collapses_and_the_daily_cap_holds(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    panel, (dr_a, _) = await _setup(client, outbox, db, clock, daily_free_questions=2)
    alice = await patient(client, outbox, "alice@example.org")
    first = await ask(alice, panel)
    # Asked again while the first is open, or the same id retried: the first answers.
    again = await ask(alice, panel, expect=200)
    retried = await ask(alice, panel, qid=first["question_id"], expect=200)
    assert again["question_id"] == retried["question_id"] == first["question_id"]
    assert again["duplicate"] is True
    await alice.call("POST", f"/api/v1/panel-questions/{first['question_id']}/withdraw")
    await ask(alice, panel)  # the second free question of the day
    await alice.call("POST", f"/api/v1/panel-questions/{(await _open(db, alice))}/withdraw")
    capped = await ask(alice, panel, expect=409)
    assert capped["code"] == "daily_question_cap_reached"
    # Practitioners do not ask free questions.
    refused = await ask(dr_a, panel, expect=403)
    assert refused["code"] == "patients_only"
    clock.advance(24 * 3600)
    alice.token = (await login(client, alice.email))["token"]
    await ask(alice, panel)  # a new day


async def _open(db: Db, person: Actor) -> str:
    doc = await db["panel_questions"].find_one({"patient": person.account_id, "state": "queued"})
    assert doc is not None
    return str(doc["_id"])


async def test_capacity_parking_hand_over_and_conversion(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock, settings: Settings
) -> None:
    panel, (dr_a, dr_b) = await _setup(client, outbox, db, clock, capacity=1)
    patients = [await patient(client, outbox, f"p{i}@example.org") for i in range(3)]
    ids = []
    for person in patients:
        ids.append((await ask(person, panel))["question_id"])
        clock.advance(1)
    await online(dr_a, dr_b)
    first = await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    assert first["question_id"] == ids[0]
    full = await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=409)
    assert full["code"] == "at_capacity"
    # A parked question does not count against capacity.
    parked = await dr_a.call("POST", f"/api/v1/panel-questions/{ids[0]}/park")
    assert parked["state"] == "parked"
    assert "lease_until" not in parked
    second = await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    assert second["question_id"] == ids[1]
    busy = await dr_a.call("POST", f"/api/v1/panel-questions/{ids[0]}/resume", expect=409)
    assert busy["code"] == "at_capacity"
    # Per-GP capacity overrides the panel's.
    await panel.admin.call(
        "PATCH",
        "/api/v1/panels/covid/settings",
        {"capacity_overrides": {dr_a.account_id: 2}},
    )
    resumed = await dr_a.call("POST", f"/api/v1/panel-questions/{ids[0]}/resume")
    assert resumed["state"] == "claimed"

    # Handed to a colleague: it jumps to the front of their list, ahead of older ones.
    handed = await dr_a.call(
        "POST", f"/api/v1/panel-questions/{ids[1]}/handover", {"to": dr_b.account_id}
    )
    assert handed["state"] == "queued"
    assert handed["offered_to"] == dr_b.account_id
    queue_b = await dr_b.call("GET", "/api/v1/panels/covid/queue")
    assert [q["question_id"] for q in queue_b["queued"]] == [ids[1], ids[2]]
    queue_a = await dr_a.call("GET", "/api/v1/panels/covid/queue")
    assert [q["question_id"] for q in queue_a["queued"]] == [ids[2]]
    taken = await dr_b.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    assert taken["question_id"] == ids[1]
    await dr_b.call("DELETE", "/api/v1/panels/covid/presence", expect=204)
    gone = await dr_b.call(
        "POST", f"/api/v1/panel-questions/{ids[1]}/handover", {"to": dr_a.account_id}
    )
    assert gone["state"] == "queued"  # dr_a is online: handed back
    offline = await dr_a.call(
        "POST", f"/api/v1/panel-questions/{ids[0]}/handover", {"to": dr_b.account_id}, expect=409
    )
    assert offline["code"] == "colleague_not_available"

    # Converted into a paid-chat offer or a booking invitation: the free question ends.
    # The offer quotes the configured paid-chat price (what Checkout would ask), which
    # the GPs read with their queue; another price is refused.
    assert queue_a["paid_chat_price"] == {
        "price_cents": settings.payments_price_cents,
        "currency": "EUR",
    }
    other_price = await dr_b.call(
        "POST",
        f"/api/v1/panel-questions/{ids[2]}/convert",
        {"outcome": "paid_offer", "price_cents": settings.payments_price_cents + 1},
        expect=422,
    )
    assert other_price["code"] == "offer_price_not_configured"
    offer = await dr_a.call(
        "POST", f"/api/v1/panel-questions/{ids[0]}/convert", {"outcome": "paid_offer"}
    )
    assert offer["state"] == "closed"
    assert offer["outcome"] == "paid_offer"
    assert offer["offer"] == {"price_cents": settings.payments_price_cents, "currency": "EUR"}
    # The one handed back to dr_a becomes an invitation to book a consultation.
    handed_back = await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    assert handed_back["question_id"] == ids[1]
    booking = await dr_a.call(
        "POST", f"/api/v1/panel-questions/{ids[1]}/convert", {"outcome": "booking"}
    )
    assert (booking["state"], booking["outcome"]) == ("closed", "booking")
    seats = {d["_id"]: d["open"] async for d in db["panel_seats"].find()}
    assert seats == {f"covid/{dr_a.account_id}": 0, f"covid/{dr_b.account_id}": 0}


async def test_a_paid_offer_quotes_the_paid_chat_price_and_names_its_panel(
    aiohttp_client: Any,
    settings: Settings,
    outbox: MemoryOutbox,
    db: Db,
    clock: ManualClock,
) -> None:
    # Paid chats configured (price 9 EUR, panel "general"): the patient's question
    # status carries the offer she can act on, her widget starts the paid chat there.
    paid = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        payments_panel_id="general",
        payments_price_cents=900,
    )
    panel, (dr_a,) = await _setup(paid, outbox, db, clock, gps=1)
    alice = await patient(paid, outbox, "alice@example.org")
    qid = (await ask(alice, panel))["question_id"]
    await online(dr_a)
    queue = await dr_a.call("GET", "/api/v1/panels/covid/queue")
    assert queue["paid_chat_price"] == {"price_cents": 900, "currency": "EUR"}
    await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    six = await dr_a.call(
        "POST",
        f"/api/v1/panel-questions/{qid}/convert",
        {"outcome": "paid_offer", "price_cents": 600},
        expect=422,
    )
    assert six["code"] == "offer_price_not_configured"
    await dr_a.call(
        "POST",
        f"/api/v1/panel-questions/{qid}/convert",
        {"outcome": "paid_offer", "price_cents": 900},
    )
    status = await alice.call("GET", f"/api/v1/panel-questions/{qid}")
    assert status["outcome"] == "paid_offer"
    assert status["offer"] == {"price_cents": 900, "currency": "EUR", "panel_id": "general"}


async def test_group_rules_refuse_a_stale_epoch_and_a_non_member_sender(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(client, db, clock)
    dr_a, dr_b, dr_c = [await gp(client, outbox, platform, f"gp{i}@example.org") for i in range(3)]
    panel = await create_panel(dr_a, [dr_a, dr_b])
    alice = await patient(client, outbox, "alice@example.org")
    old = panel.current
    await panel.commit([dr_a, dr_b, dr_c])
    stale = await ask(alice, panel, epoch=old, expect=409)
    assert stale["code"] == "stale_group_epoch"
    qid = (await ask(alice, panel))["question_id"]
    await online(dr_a)
    await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
    await panel.commit([dr_a, dr_b])  # dr_c removed
    # dr_c is no member any more: the question is not theirs to see ...
    await answer(dr_c, panel, qid, verified(alice), is_answer=False, expect=404)
    # ... and an envelope from a device outside the epoch is refused even from its
    # holder's account when signed by another device (sender must be an epoch member).
    await dr_a.add_device("gp0-laptop")
    laptop_only = {"gp0-laptop": dr_a.devices.pop("gp0-laptop")}
    desk = dr_a.devices
    dr_a.devices = laptop_only
    outsider = await answer(dr_a, panel, qid, verified(alice), expect=403)
    assert outsider["code"] == "sender_not_in_epoch"
    dr_a.devices = desk
    await answer(dr_a, panel, qid, verified(alice))


async def test_several_panels_keep_their_own_queues_members_and_settings(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(client, db, clock)
    dr_a, dr_b = [await gp(client, outbox, platform, f"gp{i}@example.org") for i in range(2)]
    covid = await create_panel(dr_a, [dr_a, dr_b], capacity=1)
    derm = await create_panel(dr_b, [dr_a, dr_b], panel_id="derm", capacity=2)
    alice = await patient(client, outbox, "alice@example.org")
    in_covid = (await ask(alice, covid))["question_id"]
    clock.advance(1)
    in_derm = (await ask(alice, derm, b"a rash on my arm"))["question_id"]  # one per panel
    await online(dr_a, panel_id="covid")
    # Online on one panel is not online on the other.
    elsewhere = await dr_a.call("POST", "/api/v1/panels/derm/claims", {}, expect=409)
    assert elsewhere["code"] == "not_online"
    await online(dr_a, panel_id="derm")
    assert (await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201))[
        "question_id"
    ] == in_covid
    # Capacity is the panel's: full on covid, room on derm.
    assert (await dr_a.call("POST", "/api/v1/panels/derm/claims", {}, expect=201))[
        "question_id"
    ] == in_derm
    assert (await dr_a.call("GET", "/api/v1/panels/covid/stats"))["queued"] == 0
    assert [p["panel_id"] for p in (await alice.call("GET", "/api/v1/panels"))["panels"]] == [
        "covid",
        "derm",
    ]
    # The covid panel's admin cannot change derm's settings.
    await dr_a.call("PATCH", "/api/v1/panels/derm/settings", {"capacity": 5}, expect=404)


async def test_no_panel_plaintext_reaches_mongodb_redis_or_logs(
    aiohttp_client: Any,
    settings: Settings,
    db: Db,
    clock: ManualClock,
    outbox: MemoryOutbox,
    services: Services,
) -> None:
    log_stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", log_stream)
    try:
        client = await aiohttp_client(create_app(settings, clock=clock, mailer=outbox, sms=outbox))
        panel, (dr_a, _) = await _setup(client, outbox, db, clock)
        alice = await patient(client, outbox, "alice@example.org")
        qid = (await ask(alice, panel, f"{CANARY} in the question".encode()))["question_id"]
        await online(dr_a)
        await dr_a.call("POST", "/api/v1/panels/covid/claims", {}, expect=201)
        await answer(dr_a, panel, qid, verified(alice))
        await alice.call("POST", f"/api/v1/panel-questions/{qid}/rating", {"score": 5}, expect=204)
    finally:
        logging.getLogger().removeHandler(handler)
    stored = await _all_documents_text(db)
    assert qid in stored  # the scan sees the panel's collections
    assert CANARY not in stored
    assert CANARY not in await _redis_text(services)
    logs = log_stream.getvalue()
    assert "/api/v1/panels/covid/questions" in logs
    assert CANARY not in logs
