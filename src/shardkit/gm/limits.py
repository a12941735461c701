"""Rate limits on destructive GM commands: a token bucket per game master and kind of command."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from shardkit.config.settings import GMRateLimits
from shardkit.wire.throttle import KeyedThrottle, throttled

MAX_GAME_MASTERS = 10_000  # buckets kept per kind (bounded memory)


class CommandLimits:
    """``[gm.rate_limits]``: each kind (``ban``, ``grant``, ``kick``) a burst, then N a minute."""

    def __init__(self, limits: GMRateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._throttles = {
            kind: KeyedThrottle(limit.per_minute / 60.0, limit.burst, MAX_GAME_MASTERS, clock)
            for kind, limit in msgspec.structs.asdict(limits).items()
        }

    @property
    def kinds(self) -> list[str]:
        return sorted(self._throttles)

    def spend(self, kind: str, account_id: int) -> None:
        """Take one of the game master's ``kind`` tokens; ``rate_limited`` if none is left."""
        bucket = self._throttles[kind].bucket(account_id)
        if not bucket.take():
            raise throttled(bucket, f"too many {kind} commands")
