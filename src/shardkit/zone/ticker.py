"""The zone's clock: a fixed-rate tick that does not drift, and one write per client per tick.

Tick n is due at ``start + n / tick_hz`` on the event loop's clock, whatever the ticks before
it cost, so the rate holds over hours. A tick that starts after the next one was due counts as
late; when the zone falls a whole tick behind, the missed ticks are skipped (counted), never
run back to back. Each tick: the engine steps, the events become notifications in the players'
outboxes, and every client not held gets its ``sync`` and outbox in one write.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
from collections import deque
from collections.abc import Callable

from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.wire.rpc import RpcConnection
from shardkit.zone.engine import ZoneEngine
from shardkit.zone.outcomes import Outcomes
from shardkit.zone.roster import Roster

log = logging.getLogger("shardkit.zone")

HOLD_BYTES = 64 * 1024
"""A client with more than this waiting unsent in its socket is held: skipped this tick."""

RECENT_TICKS = 600
"""Tick times kept for the zone's status (a minute at 10 Hz)."""


def unsent_bytes(conn: RpcConnection) -> int:
    """What the connection's transport has not managed to send yet."""
    transport = conn.writer.transport
    return 0 if transport.is_closing() else int(transport.get_write_buffer_size())


class Ticker:
    """Runs the zone's ticks at ``engine.sim.tick_hz``; ``observe`` gets each tick's seconds.

    A client whose ``backlog`` (bytes its connection has not sent yet) is over ``hold_bytes``
    is held that tick.
    """

    def __init__(self, engine: ZoneEngine, roster: Roster, outcomes: Outcomes, *,
                 hold_bytes: int = HOLD_BYTES,
                 observe: Callable[[float], None] = lambda seconds: None,
                 on_late: Callable[[int], None] = lambda ticks: None,
                 on_sent: Callable[[int], None] = lambda sent: None) -> None:
        self.engine = engine
        self.roster = roster
        self.outcomes = outcomes
        self.hold_bytes = hold_bytes
        self.backlog: Callable[[RpcConnection], int] = unsent_bytes
        self.observe = observe
        self.on_late = on_late
        self.on_sent = on_sent
        self.period = 1.0 / engine.sim.tick_hz
        self.recent: deque[float] = deque(maxlen=RECENT_TICKS)
        self.late_ticks = 0
        self.held = 0  # clients held in the last tick
        self._dropping: set[int] = set()  # too far behind: being saved and disconnected

    # ------------------------------------------------------------------ one tick
    def tick(self) -> None:
        started = time.perf_counter()
        players = self.roster.players
        hold_bytes, backlog = self.hold_bytes, self.backlog
        held = [eid for eid, p in players.items() if backlog(p.conn) > hold_bytes]
        self.held = len(held)
        result = self.engine.tick(hold=held)
        self.outcomes.deliver(result.events)
        sent = 0
        for eid, payload in result.frame:
            player = players.get(eid)
            if player is None:
                continue
            if player.outbox:
                data = b"".join((payload, *player.take_outbox()))
                player.conn.send_encoded(data)
                sent += len(data)
            else:
                player.conn.send_encoded(payload)  # type: ignore[arg-type]  # a memoryview
                sent += len(payload)
        for eid in result.frame.too_far_behind:
            player = players.get(eid)
            if player is not None and eid not in self._dropping:
                log.info("%s is too far behind (%d bytes unsent): disconnected",
                         quote(player.name), unsent_bytes(player.conn))
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
        loop = asyncio.get_running_loop()
        period = self.period
        start = loop.time()
        n = 0
        while True:
            n += 1
            delay = start + n * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay >= period:  # a whole tick behind: skip what was missed
                skipped = math.floor(-delay / period)
                n += skipped
                self.late_ticks += skipped
                self.on_late(skipped)
            self.tick()

    # ------------------------------------------------------------------ figures
    def percentiles_ms(self) -> tuple[float, float]:
        """p50 and p99 of the recent ticks' times, in milliseconds (0 before the first)."""
        if len(self.recent) < 2:
            return (self.recent[0] * 1000, self.recent[0] * 1000) if self.recent else (0.0, 0.0)
        cuts = statistics.quantiles(self.recent, n=100, method="inclusive")
        return cuts[49] * 1000, cuts[98] * 1000
