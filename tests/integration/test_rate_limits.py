"""Rate limits through the server: a flood is refused with ``retry_after`` while
another account is served; panel questions spend the same mechanism."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from moderation.limits import DEFAULT_TABLE, Action, Scope
from tests.actors import Actor, actor, app_client
from tests.integration.test_panel_queue import _setup as panel_setup
from tests.messaging import Device, device, new_cmid
from tests.panels import ask, patient, question_id

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def _patient_in_open_thread(
    client: Client, outbox: MemoryOutbox, doctor: Actor, email: str
) -> tuple[Device, str, Any]:
    patient = await actor(client, outbox, email)
    link = await patient.call(
        "POST",
        "/api/v1/care-links",
        {"provider": {"kind": "practitioner", "id": doctor.account_id}},
        expect=201,
    )
    await doctor.call("POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True})
    phone = await device(patient, f"{email.split('@')[0]}-phone")
    body = {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}}
    thread = await patient.call("POST", "/api/v1/threads", body, expect=201)
    await doctor.call("POST", f"/api/v1/threads/{thread['thread_id']}/accept")
    await phone.connect()
    everyone = await phone.verified_devices(
        {patient.account_id: patient.root.public_key, doctor.account_id: doctor.root.public_key}
    )
    return phone, str(thread["thread_id"]), everyone


async def test_a_flood_from_one_account_is_refused_while_another_is_served(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    budget = 4
    client = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        send_limit_per_device=budget,
        send_limit_per_account=100,
        # Refusals come from the Redis limiter: on a loaded machine it can answer
        # after the default 50 ms, and the send would then go on without it.
        send_limit_wait_ms=10_000.0,
    )
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await device(doctor, "doc-pc")
    mallory, mallory_thread, to_mallory = await _patient_in_open_thread(
        client, outbox, doctor, "mallory@example.org"
    )
    ann, ann_thread, to_ann = await _patient_in_open_thread(
        client, outbox, doctor, "ann@example.org"
    )
    answers = []
    for n in range(10 * budget):  # ten times the budget, interleaved with Ann's sends
        answers.append(await mallory.send_text(mallory_thread, f"spam {n}", to_mallory))
        if n % 10 == 0:
            assert (await ann.send_text(ann_thread, f"hello {n}", to_ann))["type"] == "ack"
    assert [a["type"] for a in answers[:budget]] == ["ack"] * budget
    refused = answers[budget:]
    assert {(a["type"], a["code"]) for a in refused} == {("error", "rate_limited")}
    # A device budget of 4 per 10 s: one send comes back every 2.5 s (the clock stands).
    assert {a["retry_after"] for a in refused} == {2.5}
    clock.advance(refused[-1]["retry_after"])
    assert (await mallory.send_text(mallory_thread, "calm now", to_mallory))["type"] == "ack"
    await mallory.close()
    await ann.close()


async def test_a_flood_that_outruns_its_answers_is_paced_not_disconnected(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    # Refusals are answers to the flooder's own frames: like acks they wait for room
    # in its send queue (its reading paces it) instead of closing it as too slow.
    queue = 4
    client = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        send_limit_per_device=1,
        ws_send_queue_frames=queue,
        # The in-process limiter: a refusal then never waits on I/O, so the server
        # answers a burst of frames before its writer sends any answer.
        redis_url=None,
    )
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await device(doctor, "doc-pc")
    mallory, thread, to_doctor = await _patient_in_open_thread(
        client, outbox, doctor, "mallory@example.org"
    )
    assert mallory.ws is not None
    frames = []
    for n in range(10 * queue):
        cmid = new_cmid()
        envelope = mallory.seal(thread, cmid, f"spam {n}", to_doctor)
        frames.append(
            {
                "type": "send",
                "id": cmid,
                "thread": thread,
                "client_msg_id": cmid,
                "envelope": envelope,
            }
        )
    for frame in frames:  # all at once, before reading any answer
        await mallory.ws.send_json(frame)
    answers = [await mallory.frame() for _ in frames]
    assert [a["re"] for a in answers] == [f["id"] for f in frames]
    assert [a["type"] for a in answers] == ["ack"] + ["error"] * (len(frames) - 1)
    assert {a["code"] for a in answers[1:]} == {"rate_limited"}
    assert not mallory.ws.closed
    await mallory.close()


async def test_panel_questions_spend_the_same_limiter(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    # The panel's own daily cap is set high, so moderation's budget is what binds.
    panel, _ = await panel_setup(client, outbox, db, clock, daily_free_questions=50)
    alice = await patient(client, outbox, "alice@example.org")
    budget = DEFAULT_TABLE[Action.PANEL_QUESTION][Scope.ACCOUNT].limit
    for _ in range(budget):
        asked = await ask(alice, panel)
        await alice.call("POST", f"/api/v1/panel-questions/{asked['question_id']}/withdraw")
    response = await alice.client.post(
        f"/api/v1/panels/{panel.panel_id}/questions",
        json={"question_id": question_id(), "client_msg_id": "q1", "envelope": "AAAA"},
        headers=alice.auth,
    )
    assert response.status == 429
    assert (await response.json())["code"] == "rate_limited"
    # One question back every hour / budget (3 minutes).
    assert int(response.headers["Retry-After"]) == 3600 // budget
