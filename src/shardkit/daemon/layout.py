"""A daemon's world layout: which WorldServers exist, where each runs, and its imps."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from shardkit.config.settings import ClusterSpec, Supervision
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.layout_schemas import ClusterStatus, ImpStatus, WorldLayout
from shardkit.daemon.restarts import RestartTracker
from shardkit.imp.schemas import ImpHello
from shardkit.wire.rpc import RpcConnection

LOCAL = "local"


@dataclass
class ImpRecord:
    """A WorldImp that linked to the daemon (kept while it is away, to show it)."""

    name: str
    hello: ImpHello
    conn: RpcConnection | None
    last_heard: float = field(default_factory=time.monotonic)

    @property
    def linked(self) -> bool:
        return self.conn is not None and not self.conn.closed.is_set()

    @property
    def host_label(self) -> str:
        return f"imp:{self.name}"


@dataclass
class ClusterSlot:
    """One configured WorldServer and what its daemon knows of it."""

    spec: ClusterSpec
    tracker: RestartTracker
    host: str = ""  # "local" or "imp:<name>" once placed
    state: str = "waiting"
    pid: int | None = None
    planned_stop: bool = False  # the next exit was asked for: no back-off
    unlinked_since: float | None = None  # monotonic time its link was last seen missing
    linked_once: bool = False  # its current run has registered with the daemon

    @property
    def number(self) -> int:
        return self.spec.number


class WorldLayoutBook:
    """The world's slots and imps, where each slot is placed, and the status call's answer."""

    def __init__(self, world: str, specs: list[ClusterSpec], policy: Supervision,
                 registry: ClusterRegistry) -> None:
        self.world = world
        self.registry = registry
        self.slots = {spec.number: ClusterSlot(spec, RestartTracker(policy)) for spec in specs}
        self.imps: dict[str, ImpRecord] = {}

    def on_imp(self, name: str) -> list[ClusterSlot]:
        return [slot for slot in self.slots.values() if slot.host == f"imp:{name}"]

    def room(self, imp: ImpRecord) -> int:
        return imp.hello.capacity - len(self.on_imp(imp.name))

    def place(self, slot: ClusterSlot) -> str:
        """Where the slot runs: kept if already placed, else chosen now ("" if nowhere yet).

        "local" runs here; "imp:<name>" on that imp once it is linked; "imp" on the linked imp
        with the most room left (its reported capacity less the WorldServers placed on it).
        """
        if slot.host:
            return slot.host
        runs_on = slot.spec.runs_on
        if runs_on == LOCAL:
            slot.host = LOCAL
        elif runs_on.startswith("imp:"):
            imp = self.imps.get(runs_on[4:])
            if imp is not None and imp.linked:
                slot.host = imp.host_label
        else:
            linked = [imp for imp in self.imps.values() if imp.linked and self.room(imp) > 0]
            if linked:
                best = max(linked, key=lambda imp: (self.room(imp), imp.name))
                slot.host = best.host_label
        return slot.host

    def imp_of(self, slot: ClusterSlot) -> ImpRecord | None:
        if not slot.host.startswith("imp:"):
            return None
        return self.imps.get(slot.host[4:])

    def status(self) -> WorldLayout:
        registered = dict(self.registry.listing())
        clusters = []
        for number, slot in sorted(self.slots.items()):
            reg = registered.get(number)
            tracker = slot.tracker
            clusters.append(ClusterStatus(
                number=number, zones=list(slot.spec.zones), runs_on=slot.spec.runs_on,
                host=slot.host, state=slot.state, crash_loop=tracker.crash_loop, pid=slot.pid,
                address=f"{reg.host}:{reg.port}" if reg is not None else "",
                players=self.registry.populations.get(number, 0), starts=tracker.starts,
                restarts=tracker.restarts, uptime_s=round(tracker.uptime(), 3),
                next_start_in_s=round(tracker.waiting_s(), 3), last_exit=tracker.last_exit,
                start_times=list(tracker.start_times), exit_times=list(tracker.exit_times),
            ))
        imps = [ImpStatus(imp.name, imp.hello.host, imp.hello.address, imp.hello.capacity,
                          imp.linked, [slot.number for slot in self.on_imp(imp.name)])
                for _, imp in sorted(self.imps.items())]
        return WorldLayout(self.world, clusters, imps)


def describe(layout: WorldLayout) -> str:
    """The layout as console lines, one per WorldServer and imp."""
    lines = [f"world {layout.world}: {len(layout.clusters)} world servers"]
    for c in layout.clusters:
        where = c.host or f"(unplaced, wants {c.runs_on})"
        loop = " CRASH LOOP" if c.crash_loop else ""
        lines.append(
            f"  cluster {c.number} [{', '.join(c.zones)}] on {where}: {c.state}{loop},"
            f" pid {c.pid or '-'}, {c.address or 'not registered'}, {c.players} players,"
            f" up {c.uptime_s:.0f} s, {c.restarts} restarts"
            + (f", next start in {c.next_start_in_s:.1f} s" if c.next_start_in_s else "")
            + (f", last exit: {c.last_exit}" if c.last_exit else ""))
    for imp in layout.imps:
        state = "linked" if imp.linked else "NOT LINKED"
        lines.append(f"  imp {imp.name} on {imp.host} ({imp.address}): {state}, capacity"
                     f" {imp.capacity}, clusters {imp.clusters or 'none'}")
    return "\n".join(lines)
