"""A sustained flood is stopped at the door (moderation/floods.py): a socket that
keeps sending past its budget is closed with 4029 and the seconds to wait, and its
session and device get no new socket until then; a client that waits as told is
never closed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from carechat_bench.rawframes import masked_text_frame
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.rest.accounts import BARRED_TICKET_HOLD_SECONDS
from chat_server.settings import Settings
from e2e_crypto.public import VerifiedDevice
from tests.actors import Actor, actor, app_client
from tests.integration.test_rate_limits import _patient_in_open_thread
from tests.messaging import Device, Frame, device, new_cmid

Client = TestClient[web.Request, web.Application]

BAR = 30.0
REFUSALS = 5


async def _flooder(
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
    **changes: Any,
) -> tuple[Client, Device, str, list[VerifiedDevice]]:
    client = await app_client(
        aiohttp_client,
        settings,
        clock,
        outbox,
        send_limit_per_device=2,
        ws_flood_refusals=REFUSALS,
        ws_flood_bar_seconds=BAR,
        # Refusals come from the Redis limiter: on a loaded machine it can answer
        # after the default 50 ms, and the send would then go on without it.
        send_limit_wait_ms=10_000.0,
        **changes,
    )
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await device(doctor, "doc-pc")
    mallory, thread, to_doctor = await _patient_in_open_thread(
        client, outbox, doctor, "mallory@example.org"
    )
    return client, mallory, thread, to_doctor


def _sends(mallory: Device, thread: str, to: list[VerifiedDevice], count: int) -> list[Frame]:
    frames = []
    for n in range(count):
        cmid = new_cmid()
        envelope = mallory.seal(thread, cmid, f"spam {n}", to)
        frames.append(
            {
                "type": "send",
                "id": cmid,
                "thread": thread,
                "client_msg_id": cmid,
                "envelope": envelope,
            }
        )
    return frames


async def _answers_until_closed(mallory: Device) -> tuple[list[Frame], int, dict[str, Any]]:
    """Every frame until the server closes the socket, its close code and reason."""
    assert mallory.ws is not None
    answers = []
    while True:
        msg = await mallory.ws.receive(timeout=5)
        if msg.type is WSMsgType.TEXT:
            answers.append(json.loads(msg.data))
            continue
        assert msg.type is WSMsgType.CLOSE, msg
        return answers, msg.data, json.loads(str(msg.extra))


async def _ticket(mallory: Device) -> Any:
    return await mallory.actor.client.post(
        "/api/v1/ws-tickets", json={"device_id": mallory.device_id}, headers=mallory.actor.auth
    )


async def test_a_sustained_flood_is_closed_with_4029_and_its_reconnects_refused(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    client, mallory, thread, to_doctor = await _flooder(aiohttp_client, settings, clock, outbox)
    spare_ticket = await mallory.actor.ticket(mallory.device_id)  # taken before the flood
    assert mallory.ws is not None
    frames = _sends(mallory, thread, to_doctor, 20)
    for frame in frames:  # all at once, before reading any answer
        await mallory.ws.send_json(frame)
    answers, code, reason = await _answers_until_closed(mallory)

    # The budget (2), then refusals naming each frame, until the run of REFUSALS: the
    # last refused frame gets the close instead of an answer; later ones are not read.
    assert [a["type"] for a in answers] == ["ack"] * 2 + ["error"] * (REFUSALS - 1)
    assert [a["re"] for a in answers] == [f["id"] for f in frames[: len(answers)]]
    assert {a["code"] for a in answers[2:]} == {"rate_limited"}
    # Refused after the first without asking the limiter: the same wait, the clock stands.
    assert {a["retry_after"] for a in answers[2:]} == {5.0}
    assert code == 4029
    assert reason == {"code": "socket_rate_limited", "retry_after": BAR}

    # Reconnecting is refused until the bar ends: a new ticket gets 429 + Retry-After,
    # a ticket taken before gets its hello closed with 4029 and the time left.
    loop = asyncio.get_running_loop()
    asked = loop.time()
    refused = await _ticket(mallory)
    assert refused.status == 429
    # Held a second first: a client retrying at once asks once a second at most.
    assert loop.time() - asked >= BARRED_TICKET_HOLD_SECONDS * 0.9
    assert refused.headers["Retry-After"] == str(round(BAR))
    body = await refused.json()
    assert (body["code"], body["retry_after"]) == ("socket_rate_limited", BAR)
    clock.advance(BAR - 10)
    late = await client.ws_connect("/ws")
    await late.send_json({"type": "hello", "id": "h", "ticket": spare_ticket})
    closed = await late.receive(timeout=5)
    assert (closed.type, closed.data) == (WSMsgType.CLOSE, 4029)
    assert json.loads(str(closed.extra)) == {"code": "socket_rate_limited", "retry_after": 10.0}

    clock.advance(10)
    assert (await _ticket(mallory)).status == 201
    welcome = await mallory.connect()
    assert welcome["type"] == "welcome"
    # The unanswered sends were never acknowledged; resent, they are stored once.
    resent = await mallory.request(frames[2])
    assert resent["type"] == "ack"
    assert resent["duplicate"] is False
    await mallory.close()


async def test_a_flood_written_as_the_benchmarks_flooder_writes_it_is_read_frame_by_frame(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    # ``carechat bench --flood`` masks its frames ahead of time and writes every frame
    # due in one write (carechat_bench/rawframes.py): the server must see each of them,
    # answer and close as for any other client, or the benchmark measures nothing.
    _client, mallory, thread, to_doctor = await _flooder(aiohttp_client, settings, clock, outbox)
    assert mallory.ws is not None
    frames = _sends(mallory, thread, to_doctor, 20)
    wire = b"".join(masked_text_frame(json.dumps(frame)) for frame in frames)
    mallory.ws._writer.transport.write(wire)
    answers, code, reason = await _answers_until_closed(mallory)
    assert [a["type"] for a in answers] == ["ack"] * 2 + ["error"] * (REFUSALS - 1)
    assert [a["re"] for a in answers] == [f["id"] for f in frames[: len(answers)]]
    assert code == 4029
    assert reason == {"code": "socket_rate_limited", "retry_after": BAR}


async def test_a_client_that_waits_as_told_is_never_closed(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    # However often it is refused: each accepted send ends its run of refusals.
    _client, mallory, thread, to_doctor = await _flooder(
        aiohttp_client, settings, clock, outbox, ws_flood_window_seconds=3600.0
    )
    for round_ in range(3 * REFUSALS):
        burst = _sends(mallory, thread, to_doctor, 3)
        answers = [await mallory.request(frame) for frame in burst]
        assert [a["type"] for a in answers] == ["ack", "ack", "error"], round_
        clock.advance(answers[-1]["retry_after"] * 2)  # the budget back: 2 per 10 s
    assert mallory.ws is not None
    assert not mallory.ws.closed
    await mallory.close()


async def test_other_accounts_connect_while_one_is_barred(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    client, mallory, thread, to_doctor = await _flooder(aiohttp_client, settings, clock, outbox)
    assert mallory.ws is not None
    for frame in _sends(mallory, thread, to_doctor, 10):
        await mallory.ws.send_json(frame)
    _answers, code, _reason = await _answers_until_closed(mallory)
    assert code == 4029
    ann: Actor = await actor(client, outbox, "ann@example.org")
    phone = await device(ann, "ann-phone")
    assert (await phone.connect())["type"] == "welcome"
    await phone.close()
