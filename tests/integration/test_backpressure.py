"""A reader that stops reading is disconnected (4008), not buffered without bound, and
gets everything on its next sync."""

import socket
from dataclasses import replace
from typing import Any

import pytest

from chat_server.app import create_app
from chat_server.appkeys import METRICS
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.integration.test_care_threads import _setup

# A slow reader is dropped on a deadline: run without the parallel run beside it.
pytestmark = pytest.mark.alone


def _slow_disconnects(client: Any) -> float:
    registry = client.app[METRICS].registry
    return registry.get_sample_value("carechat_ws_slow_disconnects_total") or 0.0


async def test_a_slow_reader_is_dropped_and_resumes_without_loss(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    tight = replace(settings, ws_send_queue_frames=8, send_limit_per_device=10_000)
    client = await aiohttp_client(create_app(tight, clock=clock, mailer=outbox, sms=outbox))
    doctor, _ann, doc_pc, ann_phone, thread_id, everyone = await _setup(client, outbox)
    await doctor.call("POST", f"/api/v1/threads/{thread_id}/accept")
    # The doctor's socket stops reading; the kernel buffers fill, then our queue. Its
    # receive buffer is pinned: Linux autotuning may otherwise grow it towards
    # tcp_rmem's maximum (32 MiB on some hosts), more than this test ever sends.
    assert doc_pc.ws is not None
    doc_pc.ws.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)
    bulky = "x" * 30_000
    sent = 0
    for _ in range(400):
        ack = await ann_phone.send_text(thread_id, bulky, everyone)
        assert ack["type"] == "ack", ack
        sent += 1
        if _slow_disconnects(client) >= 1:
            break
    assert _slow_disconnects(client) >= 1
    # Once it reads again, the socket turns out closed with 4008 after what was queued.
    closed = None
    for _ in range(sent + 10):
        frame = await doc_pc.frame(wait=10)
        if frame["type"] == "closed":
            closed = frame
            break
    assert closed == {"type": "closed", "code": 4008}
    doc_pc.backlog.clear()
    await doc_pc.connect()
    await doc_pc.request({"type": "sync", "cursors": {thread_id: 0}})
    replay = [f["seq"] for f in doc_pc.backlog if f["type"] == "msg"]
    assert replay == list(range(1, min(sent, 200) + 1))  # first sync page, in order
