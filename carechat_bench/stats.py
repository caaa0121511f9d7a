"""Small statistics for benchmark figures: percentiles of one run, medians of runs."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in 0..1)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    ordered = sorted(latencies_ms)
    return {
        "p50_ms": percentile(ordered, 0.50),
        "p99_ms": percentile(ordered, 0.99),
        "p999_ms": percentile(ordered, 0.999),
        "max_ms": ordered[-1] if ordered else float("nan"),
    }


# A phase's timeline: its latencies grouped by when the message was sent.
TIMELINE_BIN_SECONDS = 0.25


def timeline(
    start: float, sent_times: Sequence[float], latencies: Sequence[float]
) -> list[list[float]]:
    """Per ``TIMELINE_BIN_SECONDS`` of sending from ``start`` (seconds, any one
    clock): ``[count, p50_ms, p99_ms, max_ms]`` of the latencies (seconds) of the
    messages sent then; an empty bin is ``[0, nan, nan, nan]``."""
    bins: list[list[float]] = []
    for sent, latency in zip(sent_times, latencies, strict=True):
        index = max(0, int((sent - start) / TIMELINE_BIN_SECONDS))
        while len(bins) <= index:
            bins.append([])
        bins[index].append(latency * 1000)
    rows = []
    for values in bins:
        ordered = sorted(values)
        rows.append(
            [
                float(len(ordered)),
                percentile(ordered, 0.50),
                percentile(ordered, 0.99),
                ordered[-1] if ordered else float("nan"),
            ]
        )
    return rows


def split_p99(
    start: float, sent_times: Sequence[float], latencies: Sequence[float], first: float = 1.0
) -> tuple[float, float]:
    """p99 (ms) of the messages sent in the ``first`` seconds from ``start``, and of
    the rest: whether a phase's tail comes from its start."""
    early: list[float] = []
    late: list[float] = []
    for sent, latency in zip(sent_times, latencies, strict=True):
        (early if sent - start < first else late).append(latency * 1000)
    return percentile(sorted(early), 0.99), percentile(sorted(late), 0.99)


@dataclass(frozen=True, slots=True)
class Figure:
    """The median of several runs, with their range."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Figure:
        if not values:
            raise ValueError("a figure needs at least one run")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def render(self, digits: int = 0) -> str:
        def fmt(value: float) -> str:
            return f"{value:,.{digits}f}"

        if self.runs == 1:
            return fmt(self.median)
        return f"{fmt(self.median)} ({fmt(self.low)}-{fmt(self.high)})"
