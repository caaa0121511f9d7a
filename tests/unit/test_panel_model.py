"""The panel's pure rules: the wait estimate, a parked item, the follow-up window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat_server.model.queue import QueueItem, Throughput, wait_estimate
from chat_server.model.threads import PANEL_THREAD, PanelEvent, PanelState

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_no_basis_gives_no_estimate() -> None:
    assert wait_estimate(1, Throughput(0, 0, HOUR), gps_online=3) is None
    assert wait_estimate(1, Throughput(6, 3, HOUR), gps_online=0) is None
    assert wait_estimate(0, Throughput(6, 3, HOUR), gps_online=1) is None


@given(
    position=st.integers(min_value=1, max_value=500),
    answered=st.integers(min_value=1, max_value=200),
    gps=st.integers(min_value=1, max_value=20),
    online=st.integers(min_value=1, max_value=20),
)
def test_the_estimate_is_position_over_the_recent_pace_of_the_gps_online(
    position: int, answered: int, gps: int, online: int
) -> None:
    estimate = wait_estimate(position, Throughput(answered, gps, HOUR), online)
    assert estimate is not None
    per_gp_per_hour = answered / gps
    assert estimate.total_seconds() == pytest.approx(3600 * position / (per_gp_per_hour * online))
    later = wait_estimate(position + 1, Throughput(answered, gps, HOUR), online)
    assert later is not None
    assert later > estimate  # further back waits longer
    more = wait_estimate(position, Throughput(answered, gps, HOUR), online + 1)
    assert more is not None
    assert more < estimate  # more GPs online, shorter wait


def test_a_parked_item_has_a_claimant_and_no_lease() -> None:
    QueueItem("t", "panel", "ann", PanelState.PARKED, NOW, "gp")
    with pytest.raises(ValueError, match="parked"):
        QueueItem("t", "panel", "ann", PanelState.PARKED, NOW)
    with pytest.raises(ValueError, match="claimant"):
        QueueItem("t", "panel", "ann", PanelState.PARKED, NOW, "gp", NOW)


@given(seconds=st.integers(min_value=-600, max_value=600))
def test_the_patient_writes_until_the_follow_up_window_ends(seconds: int) -> None:
    closes = NOW + HOUR
    item = QueueItem(
        "t", "panel", "ann", PanelState.ANSWERED, NOW, answered_by="gp", closes_at=closes
    )
    assert item.open_for_patient(closes + timedelta(seconds=seconds)) == (seconds < 0)


def test_parking_and_converting_are_moves_of_a_held_question_only() -> None:
    assert PANEL_THREAD.transition(PanelState.CLAIMED, PanelEvent.PARK) is PanelState.PARKED
    assert PANEL_THREAD.transition(PanelState.PARKED, PanelEvent.RESUME) is PanelState.CLAIMED
    assert PANEL_THREAD.sources(PanelEvent.CONVERT, PanelState.CLOSED) == [
        PanelState.CLAIMED,
        PanelState.PARKED,
    ]
    assert not PANEL_THREAD.allows(PanelState.QUEUED, PanelEvent.PARK)
    assert not PANEL_THREAD.allows(PanelState.PARKED, PanelEvent.ANSWER)
