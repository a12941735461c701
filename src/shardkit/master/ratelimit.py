"""Per-key login abuse throttle: a sliding window of failures, growing back-off, bounded memory."""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shardkit.wire.rpc import RpcError

__all__ = ["BackoffLimiter", "RateLimited", "ip_key", "retry_after_s"]

_RETRY = re.compile(r"try again in (\d+) s")


class RateLimited(RpcError):
    """The ``rate_limited`` error; its message always ends with ``try again in N s``."""

    def __init__(self, seconds: float, what: str = "too many failed logins") -> None:
        self.retry_after_s = max(1, math.ceil(seconds))
        super().__init__("rate_limited", f"{what}; try again in {self.retry_after_s} s")


def retry_after_s(message: str) -> int | None:
    """The N of a ``rate_limited`` message's ``try again in N s``, or None."""
    match = _RETRY.search(message)
    return int(match.group(1)) if match else None


@functools.lru_cache(maxsize=65536)
def ip_key(ip: str) -> str:
    """The key one source address is counted under: IPv4 as is, IPv6 by its /64."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


@dataclass
class _KeyState:
    events: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    level: int = 0  # lockouts so far; the next lasts backoff_s * 2**level


class BackoffLimiter:
    """At most ``limit`` events per key in any ``window_s``; each time a key uses its budget up it
    is locked for ``backoff_s * 2**n`` (n = earlier lockouts, capped at ``max_backoff_s``) or until
    its oldest event leaves the window, whichever is later.

    Only recorded events count (the master records failed password checks, never successes).
    The escalation is forgotten once a key has been quiet for ``max_backoff_s`` after its last
    lockout. At most ``max_keys`` keys are kept: idle ones are dropped first, then the least
    recently active (an attacker cycling through many keys can only evict old entries).
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        backoff_s: float = 0.0,
        max_backoff_s: float = 900.0,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0 or backoff_s < 0 or max_keys < 1:
            raise ValueError("limit >= 1, window_s > 0, backoff_s >= 0 and max_keys >= 1 please")
        self.limit = limit
        self.window_s = float(window_s)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = max(float(max_backoff_s), self.backoff_s)
        self.max_keys = max_keys
        self._clock = clock
        self._keys: OrderedDict[str, _KeyState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0.0 if it may now."""
        state = self._keys.get(key)
        if state is None:
            return 0.0
        return max(0.0, state.locked_until - self._clock())

    def record(self, key: str) -> float:
        """Count one event for ``key``; returns the wait it now has (0.0 if none)."""
        now = self._clock()
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState()
            self._bound(now)
        else:
            self._keys.move_to_end(key)
        self._expire(state, now)
        state.events.append(now)
        if len(state.events) >= self.limit:
            self._lock(state, now)
        return max(0.0, state.locked_until - now)

    def _expire(self, state: _KeyState, now: float) -> None:
        horizon = now - self.window_s
        while state.events and state.events[0] <= horizon:
            state.events.popleft()

    def _lock(self, state: _KeyState, now: float) -> None:
        if state.level and now - state.locked_until >= self.max_backoff_s:
            state.level = 0  # quiet long enough since the last lockout
        backoff = min(self.backoff_s * 2**state.level, self.max_backoff_s)
        # the window bound: the next event is allowed once the oldest one has left the window
        window_free = state.events[-self.limit] + self.window_s - now
        state.locked_until = now + max(backoff, window_free)
        state.level += 1

    def _idle(self, state: _KeyState, now: float) -> bool:
        self._expire(state, now)
        return (not state.events and now >= state.locked_until
                and (state.level == 0 or now - state.locked_until >= self.max_backoff_s))

    def _bound(self, now: float) -> None:
        """Make room when over ``max_keys``: down to 90 %, so the O(n) sweep is amortised."""
        if len(self._keys) <= self.max_keys:
            return
        for key in [k for k, s in self._keys.items() if self._idle(s, now)]:
            del self._keys[key]
        target = self.max_keys - max(1, self.max_keys // 10)
        while len(self._keys) > target:
            self._keys.popitem(last=False)  # least recently active
