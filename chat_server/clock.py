"""Time, injected: production reads the system clock, tests drive a manual one.

Every decision that depends on time (session expiry, ticket validity, leases, paid
windows) asks the app's clock, never ``datetime.now`` directly, so boundaries can be
tested exactly.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC wall-clock time."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals; never goes backwards."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        # Starts at the real time: MongoDB's TTL monitor runs on the real clock, and
        # must not purge documents a test created "in the past".
        self._now = start or datetime.now(UTC).replace(microsecond=0)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
