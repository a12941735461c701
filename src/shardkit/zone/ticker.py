"""The zone's clock: a fixed-rate tick that does not drift, and one write per client per tick.

Tick n is due at ``start + n / tick_hz`` on the event loop's clock, whatever the ticks before
it cost, so the rate holds over hours. A tick that starts after the next one was due counts as
late; when the zone falls a whole tick behind, the missed ticks are skipped (counted), never
run back to back. Each tick: the engine steps, the events become notifications in the players'
outboxes, and every client not held gets its ``sync`` and outbox in one write: straight to its
socket (``SocketWriter``, on two threads) when its transport has nothing waiting.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import statistics
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from shardkit.runtime.collector import BetweenTicks
from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.zone.engine import ZoneEngine
from shardkit.zone.outcomes import Outcomes
from shardkit.zone.roster import Player, Roster

log = logging.getLogger("shardkit.zone")

HOLD_BYTES = 64 * 1024
"""A client with more than this waiting unsent in its socket is held: skipped this tick."""

RECENT_TICKS = 600
"""Tick times kept for the zone's status (a minute at 10 Hz)."""


def unsent_bytes(player: Player) -> int:
    """What the player's transport has not managed to send yet."""
    transport = player.transport
    return 0 if transport.is_closing() else int(transport.get_write_buffer_size())


def writable_fd(player: Player) -> int:
    """The player's socket if its transport is open with nothing waiting to be sent, else -1
    (once the transport is closing, its fd may be closed and its number reused)."""
    transport = player.transport
    if transport.is_closing() or transport.get_write_buffer_size():
        return -1
    return player.fd


SPLIT_WRITES = 64
"""From this many writes a tick on, a second thread makes half of them."""

_CLOSED = -1  # what ``_write_all`` records for a socket that failed


def _write_all(items: list[tuple[Player, int, bytes | memoryview]], start: int, stop: int,
               sent: list[int]) -> None:
    write = os.write
    for i in range(start, stop):
        try:
            sent[i] = write(items[i][1], items[i][2])
        except BlockingIOError:
            sent[i] = 0
        except OSError:
            sent[i] = _CLOSED


class SocketWriter:
    """Writes a tick's messages straight to the players' sockets, half of them on a thread.

    ``os.write`` lets go of the GIL, and on loopback the kernel hands the data to the reader
    inside the writer's call, which makes these writes most of a big zone's tick: two threads
    share them over two cores. Only sockets whose transport has nothing waiting are written to,
    and while this runs the event loop is inside the tick, so nothing else writes to them; what
    a socket does not take at once goes to its transport afterwards, so the order holds.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    def write(self, items: list[tuple[Player, int, bytes | memoryview]]) -> None:
        n = len(items)
        sent = [0] * n
        if n >= SPLIT_WRITES:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="zone-writes")
            half = n // 2
            other = self._pool.submit(_write_all, items, 0, half, sent)
            _write_all(items, half, n, sent)
            other.result()
        else:
            _write_all(items, 0, n, sent)
        for (player, _, data), done in zip(items, sent, strict=True):
            if done == _CLOSED:
                player.conn.close("connection lost")
            elif done < len(data):
                player.conn.send_encoded(data[done:])  # type: ignore[arg-type]


class Ticker:
    """Runs the zone's ticks at ``engine.sim.tick_hz``; ``observe`` gets each tick's seconds.

    A client whose ``backlog`` (bytes its connection has not sent yet) is over ``hold_bytes``
    is held that tick.
    """

    def __init__(self, engine: ZoneEngine, roster: Roster, outcomes: Outcomes, *,
                 hold_bytes: int = HOLD_BYTES,
                 observe: Callable[[float], None] = lambda seconds: None,
                 on_late: Callable[[int], None] = lambda ticks: None,
                 on_sent: Callable[[int], None] = lambda sent: None,
                 collector: BetweenTicks | None = None) -> None:
        self.engine = engine
        self.roster = roster
        self.outcomes = outcomes
        self.hold_bytes = hold_bytes
        self.backlog: Callable[[Player], int] = unsent_bytes
        self.observe = observe
        self.on_late = on_late
        self.on_sent = on_sent
        self.period = 1.0 / engine.sim.tick_hz
        self.recent: deque[float] = deque(maxlen=RECENT_TICKS)
        self.late_ticks = 0
        self.held = 0  # clients held in the last tick
        self._dropping: set[int] = set()  # too far behind: being saved and disconnected
        self.writer = SocketWriter()
        self.collector = collector  # garbage collection in the time between ticks, if given

    # ------------------------------------------------------------------ one tick
    def tick(self) -> None:
        started = time.perf_counter()
        players = self.roster.players
        hold_bytes, backlog = self.hold_bytes, self.backlog
        held = [eid for eid, p in players.items() if backlog(p) > hold_bytes]
        self.held = len(held)
        result = self.engine.tick(hold=held)
        self.outcomes.deliver(result.events)
        sent = 0
        direct: list[tuple[Player, int, bytes | memoryview]] = []
        for eid, payload in result.frame:
            player = players.get(eid)
            if player is None:
                continue
            data: bytes | memoryview = payload
            if player.outbox:
                data = b"".join((payload, *player.take_outbox()))
            sent += len(data)
            fd = writable_fd(player)
            if fd >= 0:
                direct.append((player, fd, data))
            else:
                player.conn.send_encoded(data)  # type: ignore[arg-type]  # a memoryview is fine
        self.writer.write(direct)
        for eid in result.frame.too_far_behind:
            player = players.get(eid)
            if player is not None and eid not in self._dropping:
                log.info("%s is too far behind (%d bytes unsent): disconnected",
                         quote(player.name), unsent_bytes(player))
                self._dropping.add(eid)
                background(self._drop(eid, player.account_id))
        self.on_sent(sent)
        seconds = time.perf_counter() - started
        self.recent.append(seconds)
        self.observe(seconds)

    async def _drop(self, eid: int, account_id: int) -> None:
        try:
            await self.roster.kick(account_id, "too far behind: your connection could not keep"
                                   " up with the zone")
        finally:
            self._dropping.discard(eid)

    # -------------------------------------------------------------------- the loop
    async def run(self) -> None:
        collector = self.collector
        if collector is not None:
            collector.start()
        try:
            await self._run(collector)
        finally:
            if collector is not None:
                collector.stop()

    async def _run(self, collector: BetweenTicks | None) -> None:
        loop = asyncio.get_running_loop()
        period = self.period
        start = loop.time()
        n = 0
        while True:
            n += 1
            delay = start + n * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                if -delay >= period:  # a whole tick behind: skip what was missed
                    skipped = math.floor(-delay / period)
                    n += skipped
                    self.late_ticks += skipped
                    self.on_late(skipped)
                # late or not, players' input and the heartbeat get their turn between ticks:
                # a zone whose ticks take longer than the period must not stop reading
                await asyncio.sleep(0)
            self.tick()
            if collector is not None:
                collector.after_tick()

    # ------------------------------------------------------------------ figures
    def percentiles_ms(self) -> tuple[float, float]:
        """p50 and p99 of the recent ticks' times, in milliseconds (0 before the first)."""
        if len(self.recent) < 2:
            return (self.recent[0] * 1000, self.recent[0] * 1000) if self.recent else (0.0, 0.0)
        cuts = statistics.quantiles(self.recent, n=100, method="inclusive")
        return cuts[49] * 1000, cuts[98] * 1000
