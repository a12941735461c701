"""Login queue: who waits for which full world, in what order; slots held by unused tickets."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoginQueues", "QueueFull", "Waiter"]


class QueueFull(Exception):
    """The world's queue already holds ``queue_max`` players."""


@dataclass
class Waiter:
    """One queued player; ``told`` is the position it was last told (0: never)."""

    account_id: int
    world: str
    contact: Any  # whatever the server uses to reach the player (its connection)
    told: int = 0


@dataclass
class _Line:
    """One world: the players waiting for it, and the slots held by tickets it has not absorbed."""

    waiting: OrderedDict[int, Waiter] = field(default_factory=OrderedDict)
    held: OrderedDict[int, float] = field(default_factory=OrderedDict)  # account -> ticket expiry
    # The population tickets were issued against: the last heartbeat's, and before the first
    # one 0, as the world list counts it (so tickets issued then are absorbed like any other).
    population: int = 0


class LoginQueues:
    """Fair FIFO queues per world.

    A slot is free when ``capacity - population - held > 0``, where *held* counts the tickets
    issued and neither expired nor yet seen in the world's population: each rise of the population
    reported by a heartbeat absorbs that many of the oldest held tickets, and a ticket that expires
    unused gives its slot back. While anyone waits for a world, newcomers queue behind them.
    """

    def __init__(self, max_per_world: int = 5000, clock: Callable[[], float] = time.time) -> None:
        self.max_per_world = max_per_world
        self._clock = clock
        self._lines: dict[str, _Line] = {}
        self._queued_for: dict[int, str] = {}  # account -> the world it waits for

    def _line(self, world: str) -> _Line:
        line = self._lines.get(world)
        if line is None:
            line = self._lines[world] = _Line()
        return line

    # -------------------------------------------------------------- slots
    def free_slots(self, world: str, population: int, capacity: int) -> int:
        line = self._line(world)
        self._expire(line)
        return capacity - population - len(line.held)

    def held(self, world: str) -> int:
        line = self._line(world)
        self._expire(line)
        return len(line.held)

    def hold(self, world: str, account_id: int, expires_at: float) -> None:
        """A ticket was issued: keep a slot for it until it expires or the population absorbs it."""
        line = self._line(world)
        line.held.pop(account_id, None)
        line.held[account_id] = expires_at

    def population_changed(self, world: str, population: int) -> None:
        """A heartbeat: a rise of the population absorbs that many of the oldest held slots."""
        line = self._line(world)
        for _ in range(min(max(0, population - line.population), len(line.held))):
            line.held.popitem(last=False)
        line.population = population

    def _expire(self, line: _Line) -> None:
        now = self._clock()
        for account_id in [a for a, expires in line.held.items() if expires <= now]:
            del line.held[account_id]

    # ------------------------------------------------------------ waiting
    def length(self, world: str) -> int:
        line = self._lines.get(world)
        return len(line.waiting) if line else 0

    def total(self) -> int:
        return len(self._queued_for)

    def world_of(self, account_id: int) -> str | None:
        return self._queued_for.get(account_id)

    def position(self, account_id: int) -> int | None:
        """1 = next in line."""
        world = self._queued_for.get(account_id)
        if world is None:
            return None
        for index, waiting_id in enumerate(self._lines[world].waiting, start=1):
            if waiting_id == account_id:
                return index
        return None

    def join(self, world: str, account_id: int, contact: Any) -> int:
        """Queue the account for ``world`` (leaving any other queue); returns its position.

        Joining again the queue one already waits in keeps the place (and takes the new contact).
        """
        line = self._line(world)
        current = line.waiting.get(account_id)
        if current is not None:
            current.contact = contact
        else:
            self.leave(account_id)
            if len(line.waiting) >= self.max_per_world:
                raise QueueFull(world)
            line.waiting[account_id] = Waiter(account_id, world, contact)
            self._queued_for[account_id] = world
        position = self.position(account_id)
        assert position is not None
        line.waiting[account_id].told = position
        return position

    def leave(self, account_id: int, contact: Any = None) -> str | None:
        """Take the account out of its queue (only if ``contact`` matches, when given)."""
        world = self._queued_for.get(account_id)
        if world is None:
            return None
        waiter = self._lines[world].waiting[account_id]
        if contact is not None and waiter.contact is not contact:
            return None
        del self._lines[world].waiting[account_id]
        del self._queued_for[account_id]
        return world

    def pop_admitted(self, world: str, population: int, capacity: int) -> list[Waiter]:
        """Take from the head of the queue as many players as there are free slots."""
        line = self._line(world)
        admitted: list[Waiter] = []
        free = self.free_slots(world, population, capacity)
        while free > 0 and line.waiting:
            _, waiter = line.waiting.popitem(last=False)
            del self._queued_for[waiter.account_id]
            admitted.append(waiter)
            free -= 1
        return admitted

    def moved(self, world: str) -> list[tuple[Waiter, int]]:
        """The waiters whose position differs from what they were last told, with the new one."""
        line = self._lines.get(world)
        if line is None:
            return []
        changes = []
        for index, waiter in enumerate(line.waiting.values(), start=1):
            if waiter.told != index:
                waiter.told = index
                changes.append((waiter, index))
        return changes
