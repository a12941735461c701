"""A WorldServer's answer to its daemon's console: each of its zones, up or down, and since when."""

from __future__ import annotations

import time

from shardkit.runtime.process import Child
from shardkit.wire.rpc import RpcConnection, rpc
from shardkit.world.schemas import ZoneStatus
from shardkit.world.zones import Zones


class WorldStatus:
    """``zone_status`` from the daemon (role ``daemon``)."""

    def __init__(self, zones: Zones, children: dict[str, Child]) -> None:
        self.zones = zones
        self.children = children

    @rpc("zone_status", roles=("daemon",))
    def zone_status(self, conn: RpcConnection) -> list[ZoneStatus]:
        """Each zone here: ``up`` or ``down``, its port, players, process starts, uptime."""
        now = time.monotonic()
        rows = []
        for zone in self.zones.names:
            port = self.zones.port_of(zone)
            child = self.children.get(zone)
            rows.append(ZoneStatus(
                zone, "up" if port is not None else "down", port or 0,
                self.zones.population.get(zone, 0), child.starts if child else 0,
                now - self.zones.up_since.get(zone, now) if port is not None else 0.0))
        return rows
