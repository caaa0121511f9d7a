"""Sustained floods stopped at the door: a socket that keeps sending past its budget
is closed, and its session and device are barred from reconnecting for a while.

The rate limiter (``moderation/ratelimit.py``) keeps a flood from spending anyone
else's budget, but each refused frame still costs the server its parsing, a limiter
call and an error frame: a client offering thousands of frames a second takes CPU
from everyone on the machine. So, as messaging servers do, a socket stops being read
once it has shown it does not slow down:

- :class:`RefusalRun` counts one socket's rate-limited frames. Past ``limit`` of them
  within ``window_seconds`` (counted from the first of the run) the socket is closed
  ("rate limited", with the seconds to wait). A client that honours ``retry_after``
  meets a handful of refusals per burst and is never closed.
- :class:`Bars` remembers who was closed and until when (the socket's session and
  device): a new socket ticket, or a ``hello`` with a ticket taken before, is refused
  until then, cheaply (a dictionary look-up, before any database is asked).

Bars live in each server process's memory, like the count of unauthenticated sockets
(``chat_server/ws/admission.py``): with N processes behind a balancer, a barred
client may reach another process, whose shared limiter refuses its sends and whose
own count closes it again. That bounds the cost per process, which is the point,
without a Redis round trip on every ticket.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from moderation.clock import Clock

DEFAULT_MAX_BARS = 100_000


@dataclass(frozen=True, slots=True)
class FloodPolicy:
    """``limit`` refusals within ``window_seconds`` close a socket, and bar its
    session and device for ``bar_seconds`` (or the limiter's wait, if longer)."""

    limit: int = 100
    window_seconds: float = 10.0
    bar_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        if not self.window_seconds > 0 or not self.bar_seconds > 0:
            raise ValueError("window_seconds and bar_seconds must be above 0")


class RefusalRun:
    """One socket's recent rate-limited frames."""

    __slots__ = ("_count", "_policy", "_started")

    def __init__(self, policy: FloodPolicy) -> None:
        self._policy = policy
        self._count = 0
        self._started = 0.0

    def refused(self, now: float) -> bool:
        """Counts one refusal at ``now`` (monotonic seconds); True once the run is
        long enough to close the socket."""
        if self._count == 0 or now - self._started > self._policy.window_seconds:
            self._count, self._started = 0, now
        self._count += 1
        return self._count >= self._policy.limit


class Bars:
    """Keys (session and device ids) barred until a monotonic time, in this process.

    Memory is bounded: expired bars are dropped from the oldest end as new ones come,
    and past ``max_keys`` the oldest bar goes even if it has not expired (it only lets
    that flooder reconnect early, to be counted and closed again).
    """

    def __init__(self, clock: Clock, *, max_keys: int = DEFAULT_MAX_BARS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._until: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    def bar(self, keys: Iterable[str | None], seconds: float) -> None:
        now = self._clock.monotonic()
        until = now + seconds
        for key in keys:
            if key is None:
                continue
            self._until[key] = max(until, self._until.pop(key, until))
        self._sweep(now)

    def barred_for(self, *keys: str | None) -> float | None:
        """Seconds left on the longest bar of ``keys``, or None if none is barred."""
        if not self._until:  # the common case: nobody barred, nothing to look up
            return None
        now = self._clock.monotonic()
        left = max((self._until.get(key, now) - now for key in keys if key is not None), default=0)
        return left if left > 0 else None

    def _sweep(self, now: float) -> None:
        # Bars are appended in time order and mostly of one length, so the oldest end
        # holds (nearly) the first to expire; one outliving its successors only delays
        # their removal, and ``max_keys`` bounds the map either way.
        while self._until:
            key, until = next(iter(self._until.items()))
            if until > now and len(self._until) <= self._max_keys:
                break
            del self._until[key]
