"""``FrameTally`` (the per-frame counter and latency histogram, in plain integers)
exposes exactly what prometheus_client's own Counter and Histogram would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from chat_server.metrics import _LATENCY_BUCKETS, FrameTally, Metrics

HELP_IN = "WebSocket frames received"
HELP_LATENCY = "From a frame's arrival to its answer (a send: to its ack, stored by a majority)"


def test_the_exposition_is_prometheus_clients_own() -> None:
    ours = CollectorRegistry()
    tally = FrameTally(_LATENCY_BUCKETS)
    ours.register(tally)
    reference = CollectorRegistry()
    received = Counter("carechat_ws_frames_in", HELP_IN, ["type"], registry=reference)
    latency = Histogram(
        "carechat_ws_frame_seconds",
        HELP_LATENCY,
        ["type"],
        registry=reference,
        buckets=_LATENCY_BUCKETS,
    )
    rng = random.Random(7)
    # On the bounds too: a bucket counts what is at most its bound.
    values = [*_LATENCY_BUCKETS, 0.0, 11.0, *(rng.expovariate(200) for _ in range(500))]
    for value in values:
        frame_type = rng.choice(["send", "delivered", "sync"])
        tally.received(frame_type)
        received.labels(frame_type).inc()
        if frame_type != "sync" or value < 0.01:
            tally.answered(frame_type, value)
            latency.labels(frame_type).observe(value)
    tally.received("hello")  # received, never answered
    received.labels("hello").inc()

    def exposition(registry: CollectorRegistry) -> list[str]:
        # Without the _created samples, which only prometheus_client's own classes have.
        text = generate_latest(registry).decode()
        return sorted(line for line in text.splitlines() if "_created" not in line)

    assert exposition(ours) == exposition(reference)


def test_metrics_count_frames_through_the_tally() -> None:
    metrics = Metrics()
    metrics.frame_in("send")
    metrics.frame_in("send")
    metrics.frame_answered("send", 0.003)
    registry = metrics.registry
    assert registry.get_sample_value("carechat_ws_frames_in_total", {"type": "send"}) == 2
    assert registry.get_sample_value("carechat_ws_frame_seconds_count", {"type": "send"}) == 1
    assert (
        registry.get_sample_value(
            "carechat_ws_frame_seconds_bucket", {"type": "send", "le": "0.005"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "carechat_ws_frame_seconds_bucket", {"type": "send", "le": "0.001"}
        )
        == 0
    )
