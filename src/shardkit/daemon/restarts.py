"""Restart back-off and crash-loop detection for one supervised WorldServer."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from shardkit.config.settings import Supervision

KEPT_TIMES = 16
"""How many recent start and exit times a tracker keeps (the status call shows them)."""


class RestartTracker:
    """Counts a WorldServer's starts and exits and says how long to wait before the next start.

    A run shorter than ``stable_s`` is a quick exit: each one in a row doubles the wait (from
    ``backoff_s`` up to ``backoff_max_s``), and ``crash_loop_exits`` of them in a row mark the
    WorldServer as crash-looping. It is still restarted, at the longest wait, so it comes back
    by itself once whatever made it crash is fixed; a run that lasts ``stable_s`` clears it all.
    Times are wall-clock seconds (``time.time()``), as the status call reports them.
    """

    def __init__(self, policy: Supervision, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.clock = clock
        self.starts = 0
        self.quick_exits = 0  # exits in a row that came before stable_s
        self.started_at: float | None = None  # the current run's start, while it runs
        self.start_times: deque[float] = deque(maxlen=KEPT_TIMES)
        self.exit_times: deque[float] = deque(maxlen=KEPT_TIMES)
        self.last_exit = ""
        self.next_start_at = 0.0

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    @property
    def crash_loop(self) -> bool:
        return self.quick_exits >= self.policy.crash_loop_exits

    def started(self) -> None:
        now = self.clock()
        self.starts += 1
        self.started_at = now
        self.start_times.append(now)

    def exited(self, reason: str, *, planned: bool = False) -> float:
        """Record an exit; returns the seconds to wait before starting it again.

        A planned stop (a reboot, a stop asked for) is no crash: no back-off, no loop count.
        """
        now = self.clock()
        ran = now - self.started_at if self.started_at is not None else 0.0
        self.started_at = None
        self.exit_times.append(now)
        self.last_exit = reason
        if planned:
            self.quick_exits = 0
            self.next_start_at = now
            return 0.0
        self.quick_exits = self.quick_exits + 1 if ran < self.policy.stable_s else 1
        delay = self.delay()
        self.next_start_at = now + delay
        return delay

    def delay(self) -> float:
        """The wait before the next start after ``quick_exits`` quick exits in a row."""
        if self.quick_exits <= 0:
            return 0.0
        doubled = self.policy.backoff_s * 2 ** min(self.quick_exits - 1, 30)
        return float(min(doubled, self.policy.backoff_max_s))

    def uptime(self) -> float:
        return self.clock() - self.started_at if self.started_at is not None else 0.0

    def waiting_s(self) -> float:
        """Seconds until the next start may happen (0 if it may now)."""
        return max(0.0, self.next_start_at - self.clock())
