"""Token buckets for what players send to other players (chat): a burst, then a steady rate.

Used by the zone (``say``, one bucket per player in it) and the daemon (``guild_say``, one
bucket per character, kept in bounded memory). Clocks are injected so tests need no sleeping.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from shardkit.wire.rpc import RpcError

__all__ = ["KeyedThrottle", "TokenBucket", "throttled"]


class TokenBucket:
    """Holds up to ``burst`` tokens and gains ``rate_per_s`` a second; each message takes one.

    A new bucket is full, so the first ``burst`` messages go at once and then one per
    ``1 / rate_per_s`` seconds.
    """

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(rate_per_s) and rate_per_s > 0):
            raise ValueError(f"TokenBucket: rate_per_s must be > 0, got {rate_per_s}")
        if burst < 1:
            raise ValueError(f"TokenBucket: burst must be >= 1, got {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def _refill(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        return now

    def take(self) -> bool:
        """Take a token if there is one; False means the message must be dropped."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def retry_after(self) -> float:
        """Seconds until the next token (0 if there is one now)."""
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate_per_s)

    def full(self) -> bool:
        """Whether the bucket is back to ``burst`` tokens (as good as a new one)."""
        self._refill()
        return self._tokens >= self.burst


class KeyedThrottle:
    """One TokenBucket per key (a character id), in bounded memory.

    A bucket that has filled up again is the same as a new one, so it can be forgotten: when
    ``max_keys`` keys are tracked and a new one comes, full buckets are dropped, and if that
    leaves more than 3/4 of ``max_keys``, the least recently used ones too (they start full
    again: the memory bound wins over the rate).
    """

    def __init__(self, rate_per_s: float, burst: int, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        TokenBucket(rate_per_s, burst, clock)  # validates the settings now, not at first use
        if max_keys < 1:
            raise ValueError(f"KeyedThrottle: max_keys must be >= 1, got {max_keys}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[Hashable, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def bucket(self, key: Hashable) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune()
            bucket = self._buckets[key] = TokenBucket(self.rate_per_s, self.burst, self._clock)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: Hashable) -> bool:
        return self.bucket(key).take()

    def _prune(self) -> None:
        """Make room down to 3/4 of ``max_keys`` (so pruning is rare): full buckets first."""
        for key in [k for k, b in self._buckets.items() if b.full()]:
            del self._buckets[key]
        keep = self.max_keys * 3 // 4
        while len(self._buckets) > keep:
            self._buckets.popitem(last=False)


def throttled(bucket: TokenBucket, what: str = "you are sending messages too fast") -> RpcError:
    """The ``rate_limited`` error for a message the bucket refused (``... try again in N s``)."""
    seconds = max(1, math.ceil(bucket.retry_after()))
    return RpcError("rate_limited", f"{what}; try again in {seconds} s")
