"""The bench's server view of a load phase, read from the server's own exposition."""

from __future__ import annotations

from prometheus_client import generate_latest

from carechat_bench.server_view import phase_view, totals_of
from chat_server.metrics import Metrics


def _exposition(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_a_phase_is_the_difference_between_two_scrapes() -> None:
    metrics = Metrics()
    metrics.message_batch(10, 0.100)  # before the phase: not counted
    metrics.frame_answered("send", 1.0)
    before = totals_of([_exposition(metrics)])
    metrics.message_batch(4, 0.002)
    metrics.message_batch(2, 0.004)
    metrics.frame_answered("send", 0.005)
    metrics.frame_answered("send", 0.007)
    metrics.frame_answered("delivered", 0.5)  # not a send
    view = phase_view(before, totals_of([_exposition(metrics)]))
    assert round(view["batch_ms"], 6) == 3.0
    assert view["per_batch"] == 3.0
    assert round(view["send_ms"], 6) == 6.0


def test_several_servers_are_summed() -> None:
    first, second = Metrics(), Metrics()
    first.message_batch(3, 0.001)
    second.message_batch(5, 0.003)
    both = totals_of([_exposition(first), _exposition(second)])
    assert both["batches"] == 2
    assert both["stored"] == 8
    assert round(both["batch_s"], 6) == 0.004


def test_a_phase_without_writes_has_no_figures_rather_than_a_division_by_zero() -> None:
    same = totals_of([_exposition(Metrics())])
    assert phase_view(same, same) == {"batch_ms": 0.0, "per_batch": 0.0, "send_ms": 0.0}
