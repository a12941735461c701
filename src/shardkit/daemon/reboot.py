"""Planned reboots and shutdowns of a world's WorldServers: countdown, saves, restart, all back.

The flow, for one WorldServer or all of them: players are warned on a countdown (when it
starts, every minute in the last ten, every ten seconds in the last one), told ``going_down``
with ``in_s`` 0, then each WorldServer is stopped (SIGTERM: its zones save every character
through the character server before they exit), started again, and waited for until it has
registered, so players can come back in. Everything about it is logged as planned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from shardkit.daemon.clusters import ClusterRegistry
from shardkit.wire.peers import notify
from shardkit.world.notifications import GoingDown

log = logging.getLogger("shardkit.daemon")

BACK_IN_S = 15.0
"""How long players are told a reboot takes, until one was measured."""

REGISTER_WAIT_S = 90.0
"""How long a restarted WorldServer may take to register again before the reboot gives up."""


def countdown_marks(total_s: float) -> list[float]:
    """Seconds-left at which players are warned: at the start, each minute of the last ten,
    each ten seconds of the last minute (largest first, each below ``total_s``)."""
    marks = [float(total_s)] if total_s > 0 else []
    steps = [60.0 * m for m in range(10, 0, -1)] + [10.0 * s for s in range(5, 0, -1)]
    marks += [mark for mark in steps if mark < total_s]
    return marks


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    if seconds == 60:
        return "1 minute"
    return f"{seconds} s"


def warning_text(reason: str, in_s: float, back_in_s: float, target: str) -> str:
    """What players read: what happens, when, and when to expect the world back."""
    what = "reboots" if reason == "reboot" else "shuts down"
    when = f"in {_span(in_s)}" if in_s > 0 else "now"
    text = f"{target} {what} {when}; your character is saved first."
    if reason == "reboot":
        text += f" You will be back in about {_span(back_in_s)}: the game takes you back itself."
    return text


class ServerControl(Protocol):
    """How the daemon stops and starts one WorldServer (a local child or through its imp)."""

    async def stop_cluster(self, number: int) -> None: ...

    async def start_cluster(self, number: int) -> None: ...


class Rebooter:
    """Runs one planned reboot or shutdown at a time, and remembers when the world last rebooted.

    ``sleep`` and ``clock`` (Unix time) are injectable for tests; ``on_shutdown`` stops the
    daemon once a shutdown's countdown is over.
    """

    def __init__(self, clusters: ClusterRegistry, servers: ServerControl, *,
                 on_shutdown: Callable[[], None],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.clusters = clusters
        self.servers = servers
        self.on_shutdown = on_shutdown
        self.sleep = sleep
        self.clock = clock
        self.back_in_s = BACK_IN_S
        self.last_reboot: float | None = None  # Unix time the last reboot finished
        self.rebooting: set[int] = set()  # WorldServers in a planned stop or restart now
        self.task: asyncio.Task[str] | None = None
        self.phase = ""  # what the running reboot does now, for the console
        self._registered: dict[int, asyncio.Event] = {}

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def registered(self, number: int) -> None:
        """A WorldServer registered (the daemon calls this for every registration)."""
        self._registered.setdefault(number, asyncio.Event()).set()

    def start(self, reason: str, numbers: list[int], countdown_s: float) -> asyncio.Task[str]:
        """Start a reboot (``reason`` ``reboot``) or shutdown of ``numbers``; one at a time."""
        if self.busy:
            raise RuntimeError(f"a {self.phase or 'reboot'} is already under way")
        self.phase = f"countdown: {reason} in {_span(countdown_s)}"  # cancellable at once
        self.task = asyncio.create_task(self.run(reason, numbers, countdown_s),
                                        name=f"planned {reason}")
        return self.task

    def cancel(self) -> bool:
        """Call off a countdown under way (not once the WorldServers are stopping)."""
        if self.task is None or self.task.done() or not self.phase.startswith("countdown"):
            return False
        self.task.cancel()
        self.phase = ""
        return True

    def _target(self, numbers: list[int]) -> str:
        every = sorted(number for number, _ in self.clusters.listing())
        if sorted(numbers) == every or len(numbers) != 1:
            return f"The world {self.clusters.world}"
        return f"World server {self.clusters.world}/{numbers[0]}"

    def _tell(self, numbers: list[int], reason: str, in_s: float) -> None:
        back = self.back_in_s if reason == "reboot" else 0.0
        notice = GoingDown(reason, in_s, back,
                           warning_text(reason, in_s, back, self._target(numbers)))
        for number in numbers:
            registered = self.clusters.clusters.get(number)
            if registered is not None:
                notify(registered[0], notice)

    async def countdown(self, numbers: list[int], reason: str, countdown_s: float) -> None:
        """Warn at each mark, then tell everyone the stop is now."""
        left = float(countdown_s)
        for mark in countdown_marks(countdown_s):
            await self.sleep(max(0.0, left - mark))
            left = mark
            self.phase = f"countdown: {reason} in {_span(mark)}"
            log.info("planned %s of %s in %s", reason, self._target(numbers).split()[-1],
                     _span(mark))
            self._tell(numbers, reason, mark)
        await self.sleep(max(0.0, left))
        self._tell(numbers, reason, 0.0)

    async def run(self, reason: str, numbers: list[int], countdown_s: float) -> str:
        """The whole flow; returns what happened, in words."""
        label = self._target(numbers).split()[-1]
        self.phase = f"countdown: {reason} in {_span(countdown_s)}"
        try:
            await self.countdown(numbers, reason, countdown_s)
            if reason != "reboot":
                self.phase = "shutting down"
                log.info("planned shutdown of %s: stopping the daemon", label)
                self.on_shutdown()
                return f"{label} shut down"
            return await self._restart(numbers, label)
        finally:
            self.phase = ""

    async def _restart(self, numbers: list[int], label: str) -> str:
        started = time.monotonic()
        self.rebooting.update(numbers)
        try:
            self.phase = "saving and stopping"
            log.info("planned reboot of %s: stopping world servers %s (their zones save every"
                     " character)", label, numbers)
            for number in numbers:
                self._registered[number] = asyncio.Event()
            await asyncio.gather(*(self.servers.stop_cluster(n) for n in numbers))
            self.phase = "starting"
            await asyncio.gather(*(self.servers.start_cluster(n) for n in numbers))
            waits = [asyncio.wait_for(self._registered[n].wait(), REGISTER_WAIT_S)
                     for n in numbers]
            await asyncio.gather(*waits)
        except TimeoutError:
            log.error("planned reboot of %s: a world server did not come back in %.0f s",
                      label, REGISTER_WAIT_S)
            return f"{label}: not every world server came back in time"
        finally:
            self.rebooting.difference_update(numbers)
        took = time.monotonic() - started
        self.back_in_s = max(5.0, took * 1.5)
        self.last_reboot = self.clock()
        log.info("planned reboot of %s done in %.1f s: players may come back", label, took)
        return f"{label} rebooted in {took:.1f} s"
