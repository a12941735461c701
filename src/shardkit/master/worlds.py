"""The master's live world list: who announced, their population, and who stopped heartbeating."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from shardkit.master.schemas import AnnounceWorld, DaemonAddress, WorldInfo


@dataclass
class WorldEntry:
    announcement: AnnounceWorld
    population: int = 0
    reported_status: str = "up"
    last_seen: float = 0.0


class WorldRegistry:
    """Worlds by name; a world not heard from within ``timeout_s`` is shown down."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._timeout = timeout_s
        self._clock = clock
        self._worlds: dict[str, WorldEntry] = {}

    def announce(self, world: AnnounceWorld) -> None:
        entry = self._worlds.get(world.name)
        if entry is None:
            self._worlds[world.name] = WorldEntry(world, last_seen=self._clock())
        else:
            entry.announcement = world
            entry.reported_status = "up"
            entry.last_seen = self._clock()

    def heartbeat(self, name: str, population: int, status: str) -> bool:
        entry = self._worlds.get(name)
        if entry is None:
            return False
        entry.population = max(0, population)
        entry.reported_status = status
        entry.last_seen = self._clock()
        return True

    def mark_down(self, name: str) -> None:
        entry = self._worlds.get(name)
        if entry is not None:
            entry.last_seen = float("-inf")

    def status(self, name: str) -> str:
        entry = self._worlds.get(name)
        if entry is None or self._clock() - entry.last_seen > self._timeout:
            return "down"
        if entry.reported_status != "up":
            return entry.reported_status
        if entry.population >= entry.announcement.capacity:
            return "full"
        return "up"

    def get(self, name: str) -> WorldEntry | None:
        return self._worlds.get(name)

    def listing(self) -> list[WorldInfo]:
        return [
            WorldInfo(name, self.status(name), e.population if self.status(name) != "down" else 0,
                      e.announcement.capacity)
            for name, e in sorted(self._worlds.items())
        ]

    def daemon_addresses(self) -> list[DaemonAddress]:
        return [
            DaemonAddress(name, e.announcement.characters_host, e.announcement.characters_port)
            for name, e in sorted(self._worlds.items())
        ]
