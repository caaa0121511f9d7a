"""Rate limits for logins, key-directory look-ups, message sends and WebSocket frames.

A :class:`RateLimit` is a named policy ("*limit* per *window_seconds*"); a
:class:`RateLimiter` answers one :meth:`~RateLimiter.hit` with a :class:`Decision`.
Two implementations share one algorithm and one set of behavioural tests:

- :class:`RedisRateLimiter` — several server processes share each budget. The whole
  read-decide-write step is one Lua script, so it is atomic across processes.
- :class:`MemoryRateLimiter` — the single-process embedded default; bounded memory.

The algorithm is a leaky bucket metered in integer microseconds, equivalent to GCRA:
each unit of cost pours ``window`` into the bucket, which drains at ``limit`` per
microsecond and holds ``limit * window``. So a full budget is a burst of *limit*, and
after a burst one unit comes back every ``window / limit``: the window slides instead
of resetting at fixed boundaries. Mind what that allows: a burst of *limit*, then
*limit* more spread over the next window, so one window can see up to ``2*limit - 1``
(a login policy of 5 per 15 minutes admits 5 at once, then one every 3 minutes); the
long-run rate is *limit* per window. Integers keep the edges exact (the *limit*-th hit in
a burst is always allowed, the next always refused) where floats would wobble; Redis's
Lua numbers are doubles, exact below 2**53, which :class:`RateLimit` guarantees.

One hit may spend several buckets at once (:meth:`RateLimiter.hit_many`: a send spends
the device's, the account's and the address's budgets): all of them or none, in one
step, so a refused hit spends nothing anywhere and the caller makes one round trip to
Redis however many scopes it limits.

Privacy: the key a caller limits on is often patient data (an e-mail address, an IP).
:class:`RedisRateLimiter` replaces it by a keyed BLAKE2b pseudonym before it builds the
Redis key, so neither the key names nor the values in Redis hold it in clear.

Failure: when Redis cannot be reached, :meth:`RedisRateLimiter.hit` raises
:class:`RateLimiterUnavailable`. The limiter does not choose between failing open and
failing closed because the right answer differs per use: a login or key-directory
look-up should fail closed (refuse, "try again later"), while dropping every message
send because Redis blinked would turn a fan-out hiccup into an outage.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Final, NamedTuple, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from moderation.clock import Clock
from moderation.pseudonym import Pseudonymizer

_POLICY_NAME = re.compile(r"^[a-z0-9_.-]{1,64}$")
_MAX_EXACT = 2**53  # largest range of integers a Lua (double) number holds exactly
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)


class RateLimiterUnavailable(Exception):
    """The shared limiter cannot be asked (Redis down or timing out).

    The caller decides: fail closed (answer "unavailable, retry") for logins and
    directory look-ups, fail open where refusing would be worse than over-serving.
    """


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A named policy: a budget of ``limit`` units that refills over ``window_seconds``.

    Policies are plain values: declare them once (e.g. ``RateLimit("login-email", 5,
    900)``) and pass them to :meth:`RateLimiter.hit` with the key to limit.
    """

    name: str
    limit: int
    window_seconds: float

    def __post_init__(self) -> None:
        # The name becomes part of a Redis key: no separators, no spaces.
        if not _POLICY_NAME.match(self.name):
            raise ValueError("policy name must be 1-64 of a-z 0-9 _ . -")
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        if not math.isfinite(self.window_seconds) or self.window_us < 1:
            raise ValueError("window_seconds must be at least one microsecond")
        if self.limit * self.window_us >= _MAX_EXACT:
            raise ValueError("limit * window (in microseconds) must stay below 2**53")

    @property
    def window_us(self) -> int:
        return round(self.window_seconds * 1_000_000)

    def check_cost(self, cost: int) -> None:
        # A cost above the limit could never be allowed: a bug in the caller, not a
        # client to slow down.
        if not 1 <= cost <= self.limit:
            raise ValueError(f"cost must be from 1 to {self.limit} for policy {self.name}")


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one hit.

    ``remaining``: hits of cost 1 still allowed right now. ``retry_after``: seconds
    until this same hit would be allowed (0.0 when allowed) — the Retry-After value.
    """

    allowed: bool
    remaining: int
    retry_after: float


class RateLimiter(Protocol):
    async def hit(self, policy: RateLimit, key: str, *, cost: int = 1) -> Decision:
        """Spends ``cost`` of ``key``'s budget under ``policy`` if it is available.

        A refused hit spends nothing. Raises :class:`RateLimiterUnavailable` when the
        limiter's storage cannot be reached.
        """
        ...

    async def hit_many(self, hits: Sequence[Hit], *, cost: int = 1) -> Decision:
        """Spends ``cost`` of every listed bucket if all of them have it, else none.

        The decision is allowed only if every bucket allowed it; ``remaining`` is the
        smallest left, ``retry_after`` the longest wait among the refusing buckets.
        """
        ...

    async def reset(self, policy: RateLimit, key: str) -> None:
        """Gives ``key`` its full budget back (e.g. after a successful login)."""
        ...


class Hit(NamedTuple):
    """One bucket a hit spends: a policy and the key (account, device, address) it limits."""

    policy: RateLimit
    key: str


def _check_hits(hits: Sequence[Hit], cost: int) -> None:
    if not hits:
        raise ValueError("a hit names at least one bucket")
    if len({(hit.policy.name, hit.key) for hit in hits}) != len(hits):
        raise ValueError("a hit names each bucket once")
    for hit in hits:
        hit.policy.check_cost(cost)


class _Metered(NamedTuple):
    allowed: bool
    level: int
    last_us: int
    remaining: int
    retry_us: int


def _meter(policy: RateLimit, level: int, last_us: int, now_us: int, cost: int) -> _Metered:
    """One step of the bucket; ``_LUA`` below is the same code, keep them in step."""
    window, rate = policy.window_us, policy.limit
    capacity = window * rate
    # A clock behind the last writer's (another process, skew) refills nothing, and the
    # cap keeps ``elapsed * rate`` below 2**53: a full window empties the bucket anyway.
    elapsed = min(max(now_us - last_us, 0), window)
    level = max(level - elapsed * rate, 0)
    last_us = max(last_us, now_us)
    add = cost * window
    if level + add <= capacity:
        level += add
        retry_us = 0
    else:
        retry_us = -(-(level + add - capacity) // rate)
    return _Metered(retry_us == 0, level, last_us, (capacity - level) // window, retry_us)


# KEYS: the buckets; ARGV: now_us, cost, then window_us and limit per bucket. The
# first pass decides (every bucket must have room), the second writes only when all
# did: a refusal leaves every bucket as it was (draining is a function of time, so not
# writing the drained level changes no later answer). Numbers are written back with
# %.0f because Lua's default tostring keeps only 14 significant digits.
_LUA = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local levels, lasts, windows, rates = {}, {}, {}, {}
local allowed, retry = 1, 0
for i = 1, #KEYS do
  local window = tonumber(ARGV[1 + 2 * i])
  local rate = tonumber(ARGV[2 + 2 * i])
  local capacity = window * rate
  local state = redis.call('HMGET', KEYS[i], 'level', 'last')
  local level = tonumber(state[1]) or 0
  local last = tonumber(state[2]) or now
  local elapsed = math.min(math.max(now - last, 0), window)
  level = math.max(level - elapsed * rate, 0)
  local add = cost * window
  if level + add > capacity then
    allowed = 0
    retry = math.max(retry, math.ceil((level + add - capacity) / rate))
  end
  levels[i], lasts[i], windows[i], rates[i] = level, math.max(last, now), window, rate
end
local remaining = nil
for i = 1, #KEYS do
  local level = levels[i]
  if allowed == 1 then
    level = level + cost * windows[i]
    redis.call('HSET', KEYS[i], 'level', string.format('%.0f', level),
               'last', string.format('%.0f', lasts[i]))
    -- The bucket is empty again after level / rate microseconds: then it can go.
    local ttl_ms = math.max(math.ceil(level / rates[i] / 1000), 1)
    redis.call('PEXPIRE', KEYS[i], string.format('%.0f', ttl_ms))
  end
  local left = math.floor((windows[i] * rates[i] - level) / windows[i])
  if remaining == nil or left < remaining then remaining = left end
end
return {allowed, remaining, retry}
"""


class RedisRateLimiter:
    """Budgets shared by every process using the same Redis and ``prefix``.

    Time comes from ``clock.now()`` (wall clock), not from Redis's TIME, so tests can
    drive it; processes' clocks must agree to within a small fraction of the shortest
    window (NTP does). A process whose clock runs ahead by X stops the refill of the
    buckets it touches for X (time never runs backwards inside a bucket): skew errs
    towards refusing, never towards a free budget. Expiry runs on Redis's own clock,
    which agrees with a system clock; a test clock that stands still does not stop it.
    ``key_secret`` (16-64 random bytes, the same in every process)
    keys the pseudonyms of limited keys; rotating it resets every budget.
    """

    def __init__(
        self, client: aioredis.Redis, prefix: str, clock: Clock, *, key_secret: bytes
    ) -> None:
        self._clock = clock
        self._prefix = f"{prefix}rl:"
        self._pseudonym = Pseudonymizer(key_secret, purpose="carechat-rl")
        self._sha = hashlib.sha1(_LUA.encode()).hexdigest()  # noqa: S324 (Redis names scripts so)
        self._client = client
        # Hits made in one turn of the event loop go to Redis as one pipeline of
        # EVALSHAs: a send spends its budgets on every message, and a call of its own
        # costs about five times the client CPU of its share of a pipeline. Each script
        # still runs atomically on its own.
        self._queued: list[_Queued] = []
        self._sending: set[asyncio.Task[None]] = set()

    def redis_key(self, policy: RateLimit, key: str) -> str:
        return f"{self._prefix}{policy.name}:{self._pseudonym(key)}"

    async def hit(self, policy: RateLimit, key: str, *, cost: int = 1) -> Decision:
        return await self.hit_many((Hit(policy, key),), cost=cost)

    async def hit_many(self, hits: Sequence[Hit], *, cost: int = 1) -> Decision:
        _check_hits(hits, cost)
        now_us = (self._clock.now() - _EPOCH) // _ONE_US
        keys = [self.redis_key(policy, key) for policy, key in hits]
        args = [now_us, cost]
        for policy, _ in hits:
            args += [policy.window_us, policy.limit]
        loop = asyncio.get_running_loop()
        decided: asyncio.Future[Decision] = loop.create_future()
        self._queued.append((keys, args, decided))
        if len(self._queued) == 1:
            loop.call_soon(self._send_queued)
        # A caller that stops waiting (its own timeout) leaves the hit in the pipeline.
        return await decided

    def _send_queued(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Queued], *, again: bool = False) -> None:
        pipe = self._client.pipeline(transaction=False)
        for keys, args, _ in batch:
            pipe.evalsha(self._sha, len(keys), *keys, *args)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            _fail(batch, exc)
            return
        # Redis restarted or failed over and lost the script: load it, send those again.
        lost = [] if again else [q for q, r in zip(batch, replies, strict=True) if _noscript(r)]
        for (_, _, decided), reply in zip(batch, replies, strict=True):
            if not decided.done() and (again or not _noscript(reply)):
                _settle(decided, reply)
        if lost:
            try:
                await self._client.script_load(_LUA)
            except (RedisError, OSError) as exc:
                _fail(lost, exc)
                return
            await self._send(lost, again=True)

    async def reset(self, policy: RateLimit, key: str) -> None:
        try:
            await self._client.delete(self.redis_key(policy, key))
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc


# One hit waiting for the next pipeline: its keys, its script arguments, its answer.
_Queued = tuple[list[str], list[int], "asyncio.Future[Decision]"]


def _noscript(reply: object) -> bool:
    return isinstance(reply, NoScriptError)


def _settle(decided: asyncio.Future[Decision], reply: object) -> None:
    if isinstance(reply, Exception):
        decided.set_exception(_unavailable(reply))
        return
    allowed, remaining, retry_us = (int(value) for value in cast(list[int], reply))
    decided.set_result(Decision(allowed == 1, remaining, retry_us / 1_000_000))


def _fail(batch: list[_Queued], exc: Exception) -> None:
    for _, _, decided in batch:
        if not decided.done():
            decided.set_exception(_unavailable(exc))


def _unavailable(exc: Exception) -> RateLimiterUnavailable:
    # Only the exception type: a Redis error message may echo the command and its key.
    return RateLimiterUnavailable(f"rate limiter storage unreachable: {type(exc).__name__}")


class FixedHits:
    """Policies always spent together at a cost of 1 (one action's scopes), with the
    numbers each step of the bucket needs worked out once.

    The send path spends the same three budgets on every message: with the in-process
    limiter, :meth:`MemoryRateLimiter.spend` meters them from these tuples without
    building a hit, a step or a decision per call (the call behind a send: 15.2 -> 6.8 µs
    of CPU in a micro-benchmark). The buckets are the ones ``hit_many`` meters: the
    two paths can be mixed on the same keys.
    """

    __slots__ = ("policies", "steps")

    def __init__(self, policies: Sequence[RateLimit]) -> None:
        if not policies:
            raise ValueError("a hit names at least one bucket")
        if len({policy.name for policy in policies}) != len(policies):
            raise ValueError("a hit names each bucket once")
        self.policies = tuple(policies)
        # (name, rate, window, capacity), the locals of ``_meter``.
        self.steps: tuple[tuple[str, int, int, int], ...] = tuple(
            (p.name, p.limit, p.window_us, p.window_us * p.limit) for p in policies
        )


DEFAULT_MAX_KEYS = 100_000
_SWEEP = 16  # least recently used entries checked for expiry on each hit


class MemoryRateLimiter:
    """In-process budgets for a single server process (the embedded default).

    Time comes from ``clock.monotonic()``: nothing is shared, so wall-clock jumps
    should not refill budgets. Memory is bounded: expired buckets are swept from the
    least recently used end, and past ``max_keys`` the least recently used bucket is
    dropped even if not yet empty. Dropping forgives that key's recent use, so a flood
    of distinct keys can reset old budgets: size ``max_keys`` well above the number of
    keys active within the longest window. Everything runs without awaiting, so each
    hit is atomic on the event loop.
    """

    def __init__(self, clock: Clock, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._clock = clock
        self._max_keys = max_keys
        # (policy name, key) -> [level, last_us, empty_at_us], least recently used
        # first; a list so the fast path updates a bucket in place.
        self._buckets: OrderedDict[tuple[str, str], list[int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def hit(self, policy: RateLimit, key: str, *, cost: int = 1) -> Decision:
        return await self.hit_many((Hit(policy, key),), cost=cost)

    async def hit_many(self, hits: Sequence[Hit], *, cost: int = 1) -> Decision:
        _check_hits(hits, cost)
        now_us = round(self._clock.monotonic() * 1_000_000)
        self._sweep(now_us)
        metered: list[_Metered] = []
        for policy, key in hits:
            bucket = self._buckets.get((policy.name, key))
            level, last_us = (bucket[0], bucket[1]) if bucket else (0, now_us)
            metered.append(_meter(policy, level, last_us, now_us, cost))
        if not all(step.allowed for step in metered):
            # As in Redis: a refusal writes nothing (it only counts as recent use), and
            # a bucket that had room counts its remaining units without this hit's cost.
            for policy, key in hits:
                if (policy.name, key) in self._buckets:
                    self._buckets.move_to_end((policy.name, key))
            return Decision(
                False,
                min(step.remaining + (cost if step.allowed else 0) for step in metered),
                max(step.retry_us for step in metered) / 1_000_000,
            )
        for (policy, key), step in zip(hits, metered, strict=True):
            self._buckets.pop((policy.name, key), None)
            empty_at = step.last_us - (-step.level // policy.limit)
            self._buckets[(policy.name, key)] = [step.level, step.last_us, empty_at]
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return Decision(True, min(step.remaining for step in metered), 0.0)

    def spend(self, fixed: FixedHits, keys: Sequence[str]) -> float:
        """``hit_many`` of ``fixed``'s policies on ``keys`` (in the same order) at a cost
        of 1, answered without awaiting: 0.0 when spent, else the Retry-After seconds.

        The same buckets and arithmetic as :func:`_meter` (tested to agree), unrolled:
        the first pass only decides, the second writes each bucket in place, so an
        allowed hit builds nothing but its dictionary keys.
        """
        now_us = round(self._clock.monotonic() * 1_000_000)
        buckets = self._buckets
        self._sweep(now_us)
        retry_us = 0
        for (name, rate, window, capacity), key in zip(fixed.steps, keys, strict=True):
            bucket = buckets.get((name, key))
            if bucket is None:
                continue  # an empty bucket holds a cost of 1 (every limit is at least 1)
            level = max(bucket[0] - min(max(now_us - bucket[1], 0), window) * rate, 0)
            if level + window > capacity:
                retry_us = max(retry_us, -(-(level + window - capacity) // rate))
        if retry_us:
            for (name, *_), key in zip(fixed.steps, keys, strict=True):
                if (name, key) in buckets:
                    buckets.move_to_end((name, key))
            return retry_us / 1_000_000
        for (name, rate, window, _), key in zip(fixed.steps, keys, strict=True):
            named = (name, key)
            bucket = buckets.get(named)
            if bucket is None:
                buckets[named] = [window, now_us, now_us - (-window // rate)]
                continue
            last_us = bucket[1]
            level = max(bucket[0] - min(max(now_us - last_us, 0), window) * rate, 0) + window
            last_us = max(last_us, now_us)
            bucket[0], bucket[1], bucket[2] = level, last_us, last_us - (-level // rate)
            buckets.move_to_end(named)
        while len(buckets) > self._max_keys:
            buckets.popitem(last=False)
        return 0.0

    async def reset(self, policy: RateLimit, key: str) -> None:
        self._buckets.pop((policy.name, key), None)

    def _sweep(self, now_us: int) -> None:
        # An empty bucket is the same as no bucket, so removing it changes no answer.
        # Only when the least recently used one has emptied are the next ones looked
        # at: on most hits it has not, and one look is cheaper than sixteen.
        if not self._buckets or next(iter(self._buckets.values()))[2] > now_us:
            return
        expired = [
            name for name, bucket in islice(self._buckets.items(), _SWEEP) if bucket[2] <= now_us
        ]
        for name in expired:
            del self._buckets[name]
