"""The registry of job kinds: a name, the handler that runs it, its retry policy.

The composition root (``app.py``) registers every kind; a process only takes jobs of
kinds it knows, so a rolling upgrade never hands a job to a process without its code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chat_server.jobs.runner import JobContext

# A handler returns None when the job is done, or when it wants to run again
# (with its cursor kept): a job that waits for something to come due.
Handler = Callable[["JobContext"], Awaitable[datetime | None]]

MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    handler: Handler
    max_attempts: int
    backoff: timedelta

    def retry_delay(self, attempts: int) -> timedelta:
        """Exponential: backoff, 2 x backoff, 4 x backoff, ... at most an hour."""
        delay: timedelta = self.backoff * 2 ** max(0, attempts - 1)
        return min(delay, MAX_BACKOFF)


class JobKinds:
    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self,
        name: str,
        handler: Handler,
        *,
        max_attempts: int = 5,
        backoff: timedelta = timedelta(seconds=10),
    ) -> None:
        if name in self._kinds:
            raise ValueError(f"job kind {name!r} is registered twice")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._kinds[name] = JobKind(name, handler, max_attempts, backoff)

    def get(self, name: str) -> JobKind:
        return self._kinds[name]

    def names(self) -> list[str]:
        return sorted(self._kinds)
