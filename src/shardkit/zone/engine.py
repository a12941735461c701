"""One zone's engine per tick: the simulation's step, then every client's view and its sync."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection

import msgspec

from shardkit.content import Content
from shardkit.zone.events import Event
from shardkit.zone.interest import InterestConfig, InterestManager
from shardkit.zone.simulation import Simulation
from shardkit.zone.sync_format import SyncFrame, encode_frame


class TickTimings(msgspec.Struct):
    """Seconds spent in each part of the last tick (injected clock: ``time.perf_counter``)."""

    simulation: float = 0.0
    interest: float = 0.0
    encoding: float = 0.0


class TickResult(msgspec.Struct):
    tick: int
    events: list[Event]  # for the server layer to deliver, save or log
    frame: SyncFrame  # one pre-encoded ``sync`` notification per client not held
    timings: TickTimings


class ZoneEngine:
    """What a zone server drives: players join (``join``) and leave, send input, and each
    ``tick`` gives back the events and one sync notification per client.

    Pure: no sockets, no clock of its own for the game (``clock`` only measures timings),
    randomness from ``rng``.
    """

    def __init__(self, sim: Simulation, interest: InterestConfig | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.sim = sim
        self.interest = InterestManager(interest or InterestConfig(radius=sim.view_radius))
        self.clock = clock
        self.timings = TickTimings()

    @classmethod
    def for_zone(cls, content: Content, zone: str, *, view_radius: float = 60.0,
                 tick_hz: float = 10.0, rng: random.Random | None = None,
                 interest: InterestConfig | None = None) -> ZoneEngine:
        sim = Simulation.for_zone(content, zone, view_radius=view_radius, tick_hz=tick_hz, rng=rng)
        return cls(sim, interest or InterestConfig(radius=view_radius))

    # players -------------------------------------------------------------
    def join(self, name: str, **progress: object) -> int:
        """Add a player (``Simulation.add_player`` arguments) with a client; its entity id."""
        eid = self.sim.add_player(name, **progress)  # type: ignore[arg-type]
        self.interest.add_client(eid, self.sim.table.slot_of[eid], self.sim.tick)
        return eid

    def leave(self, eid: int) -> None:
        """Take a player and its client out (viewers are told it left on the next tick)."""
        self.interest.remove_client(eid)
        self.sim.remove(eid)

    def first_sync(self, eid: int) -> bytes | None:
        """The ``sync`` a client that joined since the last tick is owed now: its whole view as
        of that tick (numbered like it), so it need not wait for the next tick to see the zone.
        None if it has no client or has already been sent its view."""
        row = self.interest.row_of.get(eid)
        if row is None or not self.interest.row_rebuild[row] or self.sim.tick == 0:
            return None
        batch = self.interest.update(self.sim.table, self.sim.tick, only=(eid,))
        return encode_frame(batch, self.sim.table).payload(eid)

    # tick ----------------------------------------------------------------
    def tick(self, *, hold: Collection[int] = ()) -> TickResult:
        """Advance one tick. ``hold``: clients whose connection cannot take more now (they get
        the latest state once released); ``frame.too_far_behind`` lists those held too long."""
        clock = self.clock
        started = clock()
        events = self.sim.step()
        stepped = clock()
        batch = self.interest.update(self.sim.table, self.sim.tick, hold=hold,
                                     visible_events=self.sim.visible)
        viewed = clock()
        frame = encode_frame(batch, self.sim.table)
        done = clock()
        self.timings = TickTimings(stepped - started, viewed - stepped, done - viewed)
        return TickResult(self.sim.tick, events, frame, self.timings)
