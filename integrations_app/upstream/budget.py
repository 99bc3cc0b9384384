"""Request budgets: each credential's requests to one endpoint kept under a rate, spread over time,
whatever the number of processes and machines sending them.

ChargebackStop documents 100 requests a minute per endpoint per organisation or partner group, then
429. Each key keeps each endpoint under `per_minute` (60 by default): a generic cell rate algorithm
(GCRA) whose one number per key and endpoint, the theoretical arrival time of the next request,
lives in Redis and is moved by one Lua script, so every worker shares it. A request waits for its
slot (the budget spreads requests rather than refusing them); a slot past the caller's deadline is
not reserved and the request fails as rate limited, which is transient, never a disconnect. A 429
pushes the key's next slot back by its Retry-After, for every process.

Redis unreachable: each process keeps its own budget (a warning is logged once) rather than
stopping polls; the 429 handling still holds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from redis.exceptions import RedisError

from integrations_app.upstream.secret import Secret

logger = logging.getLogger(__name__)
HELD_BACK = "BUDGET"  # the `code` of the TransientError of a request the budget never sent

# KEYS[1]: the budget. ARGV: now, interval, tolerance, the longest wait the caller accepts.
# Returns the wait (a string: Lua numbers become integers on the way out), or "-1" when the slot
# is further away than the caller accepts (nothing is reserved then).
_RESERVE = """
local now, interval, tolerance, longest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > longest then return '-1' end
local next_tat = tat + interval
redis.call('SET', KEYS[1], tostring(next_tat), 'PX', math.ceil((next_tat - now) * 1000) + 1000)
return tostring(wait)
"""
# KEYS[1]: the budget. ARGV: now, seconds to hold off, tolerance. The next slot moves to at least
# now + seconds (never earlier than it already was).
_DEFER = """
local now, hold, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wanted = now + hold + tolerance
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < wanted then
  redis.call('SET', KEYS[1], tostring(wanted), 'PX', math.ceil((wanted - now) * 1000) + 1000)
end
return 1
"""


@dataclass(frozen=True)
class Budget:
    """The budget of one endpoint: `per_minute` requests a minute, `burst` of them at once."""

    endpoint: str
    per_minute: int
    burst: int = 1

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute

    @property
    def tolerance(self) -> float:
        return self.interval * (max(self.burst, 1) - 1)


class BudgetSpent(Exception):
    """The next slot is further away than the caller's deadline."""


def fingerprint(credential: Secret) -> str:
    """Who the budget is for, without the credential itself (Redis keys are readable)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), credential.reveal().encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def _name(credential: Secret, budget: Budget) -> str:
    return f"paystatus:budget:{fingerprint(credential)}:{budget.endpoint}"


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1)


def reserve(credential: Secret, budget: Budget, *, longest: float) -> float:
    """Reserve the next request slot and return how long to wait for it (seconds); raise
    BudgetSpent, reserving nothing, when that would be more than `longest`."""
    now, name = time.time(), _name(credential, budget)
    try:
        raw = _client().eval(_RESERVE, 1, name, now, budget.interval, budget.tolerance, max(longest, 0.0))
        wait = float(raw)
    except (RedisError, OSError, ValueError):
        _warn_once()
        wait = _local.reserve(name, now, budget, max(longest, 0.0))
    if wait < 0:
        raise BudgetSpent(budget.endpoint)
    return wait


def defer(credential: Secret, budget: Budget, seconds: float) -> None:
    """The upstream said 429: no request of this key to this endpoint before `seconds` from now."""
    now, name = time.time(), _name(credential, budget)
    try:
        _client().eval(_DEFER, 1, name, now, max(seconds, budget.interval), budget.tolerance)
    except (RedisError, OSError):
        _warn_once()
        _local.defer(name, now, budget, max(seconds, budget.interval))


class _LocalBudgets:
    """The same algorithm in this process only, for when Redis cannot be reached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tat: dict[str, float] = {}

    def reserve(self, name: str, now: float, budget: Budget, longest: float) -> float:
        with self._lock:
            tat = max(self._tat.get(name, now), now)
            wait = max(tat - budget.tolerance - now, 0.0)
            if wait > longest:
                return -1.0
            self._tat[name] = tat + budget.interval
            return wait

    def defer(self, name: str, now: float, budget: Budget, seconds: float) -> None:
        with self._lock:
            self._tat[name] = max(self._tat.get(name, 0.0), now + seconds + budget.tolerance)

    def clear(self) -> None:
        with self._lock:
            self._tat.clear()


_local = _LocalBudgets()
_warned = threading.Event()


def _warn_once() -> None:
    if not _warned.is_set():
        _warned.set()
        logger.warning("Redis is unreachable: request budgets are kept per process until it is back")


def forget_all() -> None:
    """Tests: start every budget afresh (this process's, and Redis's when it is up)."""
    _local.clear()
    try:
        names = list(_client().scan_iter("paystatus:budget:*"))
        if names:
            _client().delete(*names)
    except (RedisError, OSError):
        pass
