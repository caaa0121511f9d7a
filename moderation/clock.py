"""The clock moderation asks for time: any object with ``now()`` and ``monotonic()``.

A Protocol rather than an import so the library never depends on the server; the
server's ``SystemClock`` and the tests' ``ManualClock`` both satisfy it structurally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC wall-clock time, comparable between processes."""
        ...

    def monotonic(self) -> float:
        """Seconds for intervals inside one process; never goes backwards."""
        ...
