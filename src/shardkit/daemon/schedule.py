"""A world's daily reboot: when its countdown starts, and whether a recent reboot skips it.

Times are UTC. The countdown starts ``countdown_s`` before ``daily_at``, so the world stops at
``daily_at`` itself; a world that rebooted less than ``skip_within_h`` hours before that
moment (by hand, or a crash loop's restarts aside) skips the day's reboot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from shardkit.config.settings import RebootSchedule

log = logging.getLogger("shardkit.daemon")

DAY_S = 86400.0


def daily_seconds(daily_at: str) -> float | None:
    """``HH:MM`` as seconds after midnight (UTC); None when the schedule is off ("")."""
    if not daily_at:
        return None
    hours, _, minutes = daily_at.partition(":")
    return 3600.0 * int(hours) + 60.0 * int(minutes)


def next_countdown(now: float, schedule: RebootSchedule) -> float | None:
    """Unix time the next scheduled countdown starts (at or after ``now``); None if off."""
    at = daily_seconds(schedule.daily_at)
    if at is None:
        return None
    midnight = now - now % DAY_S
    start = midnight + at - schedule.countdown_s
    while start < now:
        start += DAY_S
    return start


def skipped(reboot_at: float, last_reboot: float | None, schedule: RebootSchedule) -> bool:
    """Whether the reboot due at ``reboot_at`` is skipped: the world rebooted recently."""
    return last_reboot is not None and reboot_at - last_reboot < schedule.skip_within_h * 3600


class ScheduledReboots:
    """Starts the daily reboot's countdown on time (``start(countdown_s)``), unless skipped.

    ``clock`` (Unix time) and ``sleep`` are injectable, so tests run days in no time;
    ``last_reboot()`` says when the world last rebooted (None: not since the daemon started).
    """

    def __init__(self, schedule: RebootSchedule, start: Callable[[float], None],
                 last_reboot: Callable[[], float | None], *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.schedule = schedule
        self.start = start
        self.last_reboot = last_reboot
        self.clock = clock
        self.sleep = sleep
        self.skips = 0
        self.starts = 0

    def next_at(self) -> float | None:
        """When the next countdown starts (Unix time); None if there is no schedule."""
        return next_countdown(self.clock(), self.schedule)

    async def step(self) -> bool:
        """Wait for the next countdown and start it (or skip it); False if there is no schedule."""
        at = self.next_at()
        if at is None:
            return False
        await self.sleep(max(0.0, at - self.clock()))
        reboot_at = at + self.schedule.countdown_s
        if skipped(reboot_at, self.last_reboot(), self.schedule):
            self.skips += 1
            log.info("scheduled reboot at %s UTC skipped: the world rebooted less than %g h ago",
                     self.schedule.daily_at, self.schedule.skip_within_h)
        else:
            self.starts += 1
            log.info("scheduled reboot at %s UTC: countdown of %.0f s starts",
                     self.schedule.daily_at, self.schedule.countdown_s)
            self.start(self.schedule.countdown_s)
        await self.sleep(1.0)  # past the start, so the next step finds tomorrow's
        return True

    async def run(self) -> None:
        """Every day's scheduled reboot, for as long as the daemon runs."""
        while await self.step():
            pass
