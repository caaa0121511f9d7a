"""An app that sends far past its budget: the server closes the SDK's socket (4029)
and refuses its tickets until the bar ends; the SDK waits as told, reconnects and
resends what was never acknowledged, so every send ends acknowledged once or refused
(``rate_limited``), and nothing is stored twice."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from aiohttp.test_utils import TestServer

from chat_server.appkeys import METRICS
from chat_server.clock import ManualClock
from chat_server.settings import Settings
from e2e_crypto.client import RateLimitedError, Text
from tests.sdk.conversation import care_thread, nothing_more, take
from tests.sdk.people import People

BUDGET = 10  # sends per device per 10 s
REFUSALS = 3
BAR = 1.0  # seconds: the SDK really waits this long before each reconnect


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        send_limit_per_device=BUDGET,
        ws_flood_refusals=REFUSALS,
        ws_flood_bar_seconds=BAR,
        # The refusals must come from the Redis limiter however loaded the machine.
        send_limit_wait_ms=10_000.0,
    )


def _refused_tickets(server: TestServer) -> float:
    metrics = server.app[METRICS] if server.app is not None else None
    assert metrics is not None
    labels = {"route": "/api/v1/ws-tickets", "method": "POST", "status": "429"}
    return metrics.registry.get_sample_value("carechat_http_requests_total", labels) or 0.0


async def test_the_sdk_waits_out_a_flood_close_and_resends_without_loss_or_duplicates(
    people: People, clock: ManualClock, server: TestServer
) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    count = 2 * BUDGET
    sends = [asyncio.create_task(ann.send(thread_id, f"m{i}")) for i in range(count)]
    # The budget is spent, REFUSALS sends are refused and the socket is closed; the
    # rest were never read. The clock stands, so the SDK's tickets are refused (429)
    # until it moves on past the bar and refills the budget.
    await asyncio.wait(sends, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(2.5 * BAR)
    assert not ann.connection.connected
    # One ticket asked for at the close's retry_after, then one per refusal's
    # Retry-After: not the back-off's (0.05 s, doubling to 0.5 s) ten or so.
    assert 1 <= _refused_tickets(server) <= 3
    clock.advance(10)

    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
    seqs = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if not isinstance(o, int)]
    assert all(isinstance(r, RateLimitedError) and r.code == "rate_limited" for r in refused)
    assert len(refused) <= REFUSALS - 1  # answered before the close (the rest resent)
    assert len(seqs) >= count - (REFUSALS - 1)
    assert len(set(seqs)) == len(seqs)  # no send acknowledged at two positions
    assert ann.connection.connects >= 2
    # The doctor receives exactly the acknowledged messages, each once.
    received = await take(doctor, len(seqs))
    assert sorted(m.seq for m in received) == sorted(seqs)
    acked = [Text(f"m{i}") for i, o in enumerate(outcomes) if isinstance(o, int)]
    assert sorted(str(m.payload) for m in received) == sorted(str(t) for t in acked)
    await nothing_more(doctor)
