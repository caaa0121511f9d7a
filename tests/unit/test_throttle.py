"""The limiter's bound: a send gives a silent limiter 50 ms and goes on (fails open);
an action that fails closed (logins) still answers 503 when the limiter is silent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from chat_server.errors import Unavailable
from chat_server.handlers.intake import LIMIT_TIMEOUT_SECONDS
from chat_server.handlers.throttle import OutageLog, Throttle
from moderation.limits import Action, ActionLimits, Subject
from moderation.ratelimit import Decision, Hit, RateLimit


class SilentLimiter:
    """A Redis that has stopped answering (SIGSTOP): every call waits forever."""

    def __init__(self) -> None:
        self.calls = 0

    async def hit(self, policy: RateLimit, key: str, *, cost: int = 1) -> Decision:
        return await self.hit_many((Hit(policy, key),), cost=cost)

    async def hit_many(self, hits: Sequence[Hit], *, cost: int = 1) -> Decision:
        self.calls += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def reset(self, policy: RateLimit, key: str) -> None:
        await asyncio.Event().wait()


def _throttle() -> tuple[Throttle, SilentLimiter]:
    limiter = SilentLimiter()
    return Throttle(limiter, ActionLimits(limiter)), limiter


async def test_a_send_fails_open_when_the_limiter_is_silent() -> None:
    throttle, limiter = _throttle()
    who = Subject(account="a", device="d", ip="203.0.113.7")
    # The outer bound only keeps a regression from hanging the suite.
    await asyncio.wait_for(
        throttle.action(Action.MESSAGE, who, wait_at_most=LIMIT_TIMEOUT_SECONDS), 10
    )
    assert limiter.calls == 1  # one call for the device, account and address


async def test_a_fail_closed_action_stays_closed_under_the_bound() -> None:
    throttle, _ = _throttle()
    with pytest.raises(Unavailable):
        await asyncio.wait_for(
            throttle.action(
                Action.LOGIN,
                Subject(account="alice@example.org", ip="203.0.113.7"),
                fail_closed=True,
                wait_at_most=LIMIT_TIMEOUT_SECONDS,
            ),
            10,
        )


async def test_a_silent_limiter_is_logged_once_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttle, _ = _throttle()
    who = Subject(account="a", device="d", ip="203.0.113.7")
    with caplog.at_level("WARNING", logger="chat_server.handlers.throttle"):
        await asyncio.gather(
            *(
                throttle.action(Action.MESSAGE, who, wait_at_most=LIMIT_TIMEOUT_SECONDS)
                for _ in range(50)
            )
        )
    said = [r for r in caplog.records if r.getMessage() == "rate limiter unavailable"]
    # Fifty sends let through; one line says so (the next, ten seconds on, counts them).
    assert len(said) == 1
    assert said[0].fields == {"budget": "message", "times": 1}  # type: ignore[attr-defined]


async def test_the_outage_log_counts_what_it_did_not_say(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    outage = OutageLog(every=10.0, monotonic=lambda: now[0])
    with caplog.at_level("WARNING", logger="chat_server.handlers.throttle"):
        for _ in range(5):
            outage.happened("login")  # said once, then four unsaid
            now[0] += 1.0
        now[0] += 6.0  # 10 s after the first line
        outage.happened("login")
    times = [r.fields["times"] for r in caplog.records]  # type: ignore[attr-defined]
    assert times == [1, 5]
