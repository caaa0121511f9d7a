"""The soak's per-window server view, from two scrapes of cumulative histogram buckets."""

from __future__ import annotations

from carechat_bench.soak import (
    POOL_CAP,
    STAGES,
    Buckets,
    Rested,
    _pool_failures,
    _share,
    _window_stages,
)


def _scrape(**per_stage: list[tuple[float, float]]) -> Buckets:
    return {key: per_stage.get(key, []) for key in STAGES}


def test_a_window_reads_the_difference_between_two_scrapes() -> None:
    inf = float("inf")
    before = _scrape(
        ack_p99_ms=[(0.01, 100.0), (0.1, 100.0), (1.0, 100.0), (inf, 100.0)],
        lag_max_ms=[(0.01, 50.0), (0.5, 50.0), (inf, 50.0)],
    )
    after = _scrape(
        # 200 new acks: 197 under 10 ms, 3 between 100 ms and 1 s -> p99 bound is 1 s.
        ack_p99_ms=[(0.01, 297.0), (0.1, 297.0), (1.0, 300.0), (inf, 300.0)],
        # The only lateness before this window (none in it) does not count.
        lag_max_ms=[(0.01, 60.0), (0.5, 60.0), (inf, 60.0)],
    )
    stages = _window_stages(before, after)
    assert stages["ack_p99_ms"] == 1000.0
    assert stages["lag_max_ms"] == 10.0
    assert stages["batch_max_ms"] == 0.0  # nothing observed: no figure


def test_the_p99_is_the_first_bound_holding_99_percent() -> None:
    inf = float("inf")
    # 985 of 1,000 under 10 ms, 995 under 100 ms: the 990th is under 100 ms.
    after = _scrape(ack_p99_ms=[(0.01, 985.0), (0.1, 995.0), (1.0, 1000.0), (inf, 1000.0)])
    assert _window_stages(_scrape(), after)["ack_p99_ms"] == 100.0


def test_steal_is_the_stolen_share_of_the_ticks_between_two_reads() -> None:
    assert _share((30, 1_200), (10, 1_000)) == 10.0  # 20 of 200 ticks
    assert _share((10, 1_000), (10, 1_000)) == 0.0  # no time passed: no figure


def _pool(*sizes: float) -> list[dict[str, float]]:
    return [{"mongodb_connections": size} for size in sizes]


def test_a_pool_may_fill_in_a_stall_and_stay_open_if_nothing_is_in_use() -> None:
    stalled_late = _pool(12, 14, 13, 15, 20, 16, 34, 36, 30)
    assert _pool_failures(stalled_late, Rested(in_use=0, open=9)) == []


def test_a_connection_still_in_use_after_resting_has_leaked() -> None:
    (failure,) = _pool_failures(_pool(12, 14, 13, 15, 20, 16), Rested(in_use=1, open=3))
    assert "1 MongoDB connections still in use after resting" in failure


def test_the_rest_counts_the_fewest_in_use_and_the_most_open() -> None:
    scrapes = [
        {"mongodb_connections": 6.0, "mongodb_connections_in_use": 2.0},  # a query in flight
        {"mongodb_connections": 8.0, "mongodb_connections_in_use": 0.0},
    ]
    assert Rested.of(scrapes) == Rested(in_use=0, open=8)


def test_a_pool_past_its_cap_fails() -> None:
    (failure,) = _pool_failures(_pool(12, 14, POOL_CAP + 1), Rested(in_use=0, open=2))
    assert f"cap {POOL_CAP}" in failure
