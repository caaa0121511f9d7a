"""What each action may cost: one table of rate limits per action and scope.

Every rate-limited action (a message, a panel question, a paid-chat start, a login, an
invitation, a key look-up, an upload, a typing notice, an abuse report) has a budget per *account*,
per *device* and per client *address* (IP); a scope it does not limit is simply absent.
:meth:`ActionLimits.check` spends every budget that applies in one
:meth:`~moderation.ratelimit.RateLimiter.hit_many`: one Redis round trip (one Lua
script) per action however many scopes it limits, and a refusal spends nothing.

Because each scope keeps its own bucket, a flood from one account empties that
account's buckets only: another account, even on the same address, keeps its own
(the address budget is set well above one person's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import cast

from moderation.ratelimit import Decision, FixedHits, Hit, MemoryRateLimiter, RateLimit, RateLimiter


class Action(StrEnum):
    MESSAGE = "message"
    PANEL_QUESTION = "panel-question"
    PAID_CHAT_START = "paid-chat-start"
    LOGIN = "login"
    INVITATION = "invitation"
    KEY_LOOKUP = "key-lookup"
    UPLOAD = "upload"
    TYPING = "typing"
    REPORT = "report"


class Scope(StrEnum):
    ACCOUNT = "account"
    DEVICE = "device"
    IP = "ip"


@dataclass(frozen=True, slots=True)
class Subject:
    """Who is acting; a scope whose key is unknown (``None``) is not limited."""

    account: str | None = None
    device: str | None = None
    ip: str | None = None

    def key(self, scope: Scope) -> str | None:
        match scope:
            case Scope.ACCOUNT:
                return self.account
            case Scope.DEVICE:
                return self.device
            case Scope.IP:
                return self.ip


@dataclass(frozen=True, slots=True)
class Budget:
    """``limit`` per ``window_seconds`` for one action in one scope."""

    limit: int
    window_seconds: float


Table = Mapping[Action, Mapping[Scope, Budget]]

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0

# Defaults sized for people, not scripts: a busy practitioner answers a few messages a
# minute; an address budget covers a practice (or a mobile carrier's NAT) of many people.
DEFAULT_TABLE: Table = MappingProxyType(
    {
        Action.MESSAGE: {
            Scope.DEVICE: Budget(60, 10),
            Scope.ACCOUNT: Budget(600, _MINUTE),
            Scope.IP: Budget(3000, _MINUTE),
        },
        # Each panel also caps a patient's free questions per day (its own setting);
        # this stops one account or address from flooding the panels' queues.
        Action.PANEL_QUESTION: {
            Scope.ACCOUNT: Budget(20, _HOUR),
            Scope.IP: Budget(300, _HOUR),
        },
        Action.PAID_CHAT_START: {
            Scope.ACCOUNT: Budget(10, _HOUR),
            Scope.IP: Budget(60, _HOUR),
        },
        # Keyed by the address typed in (the account may not exist): an unknown
        # address is limited like a known one, so the limit is no existence oracle.
        Action.LOGIN: {
            Scope.ACCOUNT: Budget(10, 5 * _MINUTE),
            Scope.IP: Budget(30, _MINUTE),
        },
        Action.INVITATION: {
            Scope.ACCOUNT: Budget(20, _HOUR),
            Scope.IP: Budget(200, _HOUR),
        },
        Action.KEY_LOOKUP: {
            Scope.ACCOUNT: Budget(120, _MINUTE),
            Scope.IP: Budget(6000, _MINUTE),
        },
        Action.UPLOAD: {
            Scope.ACCOUNT: Budget(60, _HOUR),
            Scope.IP: Budget(600, _HOUR),
        },
        Action.TYPING: {
            Scope.DEVICE: Budget(5, 10),
            Scope.ACCOUNT: Budget(20, 10),
        },
        # Abuse reports: enough to report a whole abusive conversation, not to flood
        # the moderators' queue.
        Action.REPORT: {
            Scope.ACCOUNT: Budget(30, _HOUR),
            Scope.IP: Budget(120, _HOUR),
        },
    }
)


def with_overrides(table: Table, overrides: Mapping[Action, Mapping[Scope, Budget]]) -> Table:
    """``table`` with some budgets replaced (settings carry the operator's choices)."""
    merged = {action: dict(scopes) for action, scopes in table.items()}
    for action, scopes in overrides.items():
        merged.setdefault(action, {}).update(scopes)
    return MappingProxyType({action: MappingProxyType(s) for action, s in merged.items()})


class ActionLimits:
    """The one way the server rate-limits an action: ``check(action, subject)``."""

    def __init__(self, limiter: RateLimiter, table: Table = DEFAULT_TABLE) -> None:
        self._limiter = limiter
        # Policies built once: a policy validates itself, and the send path is hot.
        self._policies: dict[Action, tuple[tuple[Scope, RateLimit], ...]] = {
            action: tuple(
                (scope, RateLimit(f"{action}-{scope}", budget.limit, budget.window_seconds))
                for scope, budget in scopes.items()
            )
            for action, scopes in table.items()
        }
        # The in-process fast path (``check_now``): each action's budgets precomputed,
        # and one C call that reads the subject's key for each of its scopes in order.
        self._memory = limiter if isinstance(limiter, MemoryRateLimiter) else None
        self._fixed: dict[Action, tuple[FixedHits, Callable[[Subject], tuple[str | None, ...]]]] = {
            action: (
                FixedHits([policy for _, policy in scoped]),
                _keys_getter(*(str(scope) for scope, _ in scoped)),
            )
            for action, scoped in self._policies.items()
            if scoped
        }

    def policy(self, action: Action, scope: Scope) -> RateLimit | None:
        return next((p for s, p in self._policies.get(action, ()) if s is scope), None)

    def every_policy(self) -> list[RateLimit]:
        """All budgets of the table, e.g. to forget one key in every one of them."""
        return [policy for scoped in self._policies.values() for _, policy in scoped]

    def hits(self, action: Action, subject: Subject) -> list[Hit]:
        hits = []
        for scope, policy in self._policies.get(action, ()):
            key = subject.key(scope)
            if key is not None:
                hits.append(Hit(policy, key))
        return hits

    async def check(self, action: Action, subject: Subject, *, cost: int = 1) -> Decision:
        """Spends ``cost`` in every scope of ``action`` that ``subject`` names; one call.

        Raises :class:`~moderation.ratelimit.RateLimiterUnavailable` when the limiter's
        storage is down (the caller chooses to fail open or closed).
        """
        hits = self.hits(action, subject)
        if not hits:
            return Decision(True, 0, 0.0)
        return await self._limiter.hit_many(hits, cost=cost)

    def check_now(self, action: Action, subject: Subject) -> float | None:
        """``check`` at a cost of 1 without awaiting, when it can be answered so: the
        limiter is in-process and ``subject`` names every scope ``action`` limits.

        Returns 0.0 when spent, the Retry-After seconds when refused, and ``None``
        when the caller must ``check`` instead (the Redis limiter, a missing key):
        one mechanism, the same buckets, only without a hit list or a decision.
        """
        fixed = self._fixed.get(action)
        if self._memory is None or fixed is None:
            return None
        hits, keys_of = fixed
        keys = keys_of(subject)
        if None in keys:
            return None
        return self._memory.spend(hits, cast("tuple[str, ...]", keys))  # no None left

    async def reset(self, action: Action, scope: Scope, key: str) -> None:
        policy = self.policy(action, scope)
        if policy is not None:
            await self._limiter.reset(policy, key)


def _keys_getter(*scopes: str) -> Callable[[Subject], tuple[str | None, ...]]:
    # ``attrgetter`` of one name returns the value, not a 1-tuple.
    if len(scopes) == 1:
        one = attrgetter(scopes[0])
        return lambda subject: (one(subject),)
    return attrgetter(*scopes)
