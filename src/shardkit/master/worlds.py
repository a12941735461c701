"""The master's live world list: who announced, their population, and who stopped heartbeating."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from shardkit.master.schemas import AnnounceWorld, DaemonAddress


@dataclass
class KnownWorld:
    """One world as the master knows it: the daemon's announcement and its latest heartbeat."""

    announcement: AnnounceWorld
    population: int = 0
    reported_status: str = "up"
    last_seen: float = 0.0
    crash_loops: tuple[str, ...] = ()


class WorldRegistry:
    """Worlds by name; a world not heard from within ``timeout_s`` is shown down."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._timeout = timeout_s
        self._clock = clock
        self._worlds: dict[str, KnownWorld] = {}

    def announce(self, world: AnnounceWorld) -> None:
        entry = self._worlds.get(world.name)
        if entry is None:
            self._worlds[world.name] = KnownWorld(world, last_seen=self._clock())
        else:
            entry.announcement = world
            entry.reported_status = "up"
            entry.last_seen = self._clock()

    def heartbeat(self, name: str, population: int, status: str,
                  crash_loops: list[str] | None = None) -> bool:
        entry = self._worlds.get(name)
        if entry is None:
            return False
        entry.population = max(0, population)
        entry.reported_status = status
        entry.crash_loops = tuple(crash_loops or ())
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

    def get(self, name: str) -> KnownWorld | None:
        return self._worlds.get(name)

    def entries(self) -> list[tuple[str, KnownWorld]]:
        """Every world ever announced, by name."""
        return sorted(self._worlds.items())

    def accepting(self, name: str) -> bool:
        """Heard from in time and reporting itself up: players may be let in (capacity aside)."""
        entry = self._worlds.get(name)
        return (entry is not None and self._clock() - entry.last_seen <= self._timeout
                and entry.reported_status == "up")

    def daemon_addresses(self) -> list[DaemonAddress]:
        return [
            DaemonAddress(name, e.announcement.characters_host, e.announcement.characters_port)
            for name, e in sorted(self._worlds.items())
        ]
