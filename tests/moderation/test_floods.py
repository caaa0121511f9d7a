"""The flood rule's two parts on an injected clock: a run of refusals within its
window, and bars that end on time and stay bounded in number."""

from __future__ import annotations

import pytest

from chat_server.clock import ManualClock
from moderation.floods import Bars, FloodPolicy, RefusalRun


def test_a_run_closes_at_its_limit_within_the_window_only() -> None:
    run = RefusalRun(FloodPolicy(limit=3, window_seconds=10.0))
    assert [run.refused(t) for t in (0.0, 1.0)] == [False, False]
    assert run.refused(2.0) is True
    spread = RefusalRun(FloodPolicy(limit=3, window_seconds=10.0))
    # Refusals further apart than the window never add up to a run.
    assert [spread.refused(t) for t in (0.0, 6.0, 12.0, 18.0, 24.0)] == [False] * 5


def test_a_bar_names_the_time_left_and_ends_on_time() -> None:
    clock = ManualClock()
    bars = Bars(clock)
    assert bars.barred_for("session-1") is None
    bars.bar(("session-1", None, "device-1"), 10.0)
    clock.advance(4)
    assert bars.barred_for("device-1") == pytest.approx(6.0)
    assert bars.barred_for("someone-else", None) is None
    clock.advance(6)
    assert bars.barred_for("session-1", "device-1") is None


def test_bars_stay_bounded_and_expired_ones_go() -> None:
    clock = ManualClock()
    bars = Bars(clock, max_keys=3)
    for n in range(5):
        bars.bar((f"s{n}",), 10.0)
    assert len(bars) == 3
    assert bars.barred_for("s0") is None  # the oldest made room
    assert bars.barred_for("s4") == pytest.approx(10.0)
    clock.advance(11)
    bars.bar(("late",), 10.0)
    assert len(bars) == 1


def test_a_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="limit"):
        FloodPolicy(limit=0)
    with pytest.raises(ValueError, match="above 0"):
        FloodPolicy(bar_seconds=0)
