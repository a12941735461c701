"""World entry: the world list, world tickets, and the login queue's notices to waiting players."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from shardkit.master.metrics import MasterMetrics
from shardkit.master.notifications import QueuePosition, QueueReady
from shardkit.master.queue import LoginQueues, QueueFull
from shardkit.master.schemas import QueuePlace, WorldEntry, WorldInfo
from shardkit.master.worlds import WorldRegistry
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.wire.tickets import issue_ticket, world_server

__all__ = ["WorldGate"]

log = logging.getLogger("shardkit.master")


class WorldGate:
    """Lets players into worlds: a ticket at once while there is room, else a place in the queue.

    Queued players get ``queue_position [world, position]`` whenever their place changes and
    ``queue_ready [world, host, port, ticket]`` when their turn comes. The queue moves on every
    heartbeat (the population may have dropped, unused tickets may have expired) and whenever
    someone leaves it.
    """

    def __init__(self, registry: WorldRegistry, queues: LoginQueues,
                 ticket_key: Callable[[str], bytes],
                 ticket_ttl_s: float, metrics: MasterMetrics,
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.queues = queues
        self._ticket_key = ticket_key
        self._ttl = ticket_ttl_s
        self._metrics = metrics
        self._clock = clock
        self._watched: set[RpcConnection] = set()  # queued connections whose close we follow

    # ------------------------------------------------------------ listing
    def listing(self) -> list[WorldInfo]:
        rows = []
        for name, known in self.registry.entries():
            status = self.registry.status(name)
            waiting = self.queues.length(name)
            capacity = known.announcement.capacity
            if status == "up" and (waiting or self.queues.free_slots(name, known.population,
                                                                      capacity) <= 0):
                status = "full"
            population = 0 if status == "down" else known.population
            rows.append(WorldInfo(name, status, population, capacity, waiting))
        return rows

    # -------------------------------------------------------------- entry
    def enter(self, conn: RpcConnection, world: str,
              cluster: int | None = None) -> WorldEntry | QueuePlace:
        """A ticket if there is room and nobody waits; otherwise the player's place in the queue.

        The ticket names WorldServer ``cluster`` of the world, by default its entry point (a
        queued player's always does)."""
        known = self.registry.get(world)
        if known is None:
            raise RpcError("no_such_world", f"there is no world '{world}'")
        if self.registry.status(world) == "down":
            raise RpcError("world_down", f"'{world}' is down; try again later")
        if self.registry.status(world) == "unavailable":
            raise RpcError("unavailable", f"'{world}' cannot load characters right now (its"
                                          " character server is away); try again later")
        account_id, name = _account(conn)
        if self.queues.world_of(account_id) != world:
            self.advance(world)  # those already waiting go first
            if self._has_room(world):
                self._leave_other_queue(account_id)
                self._metrics.tickets.labels("direct").inc()
                return self._issue(account_id, name, world, cluster)
        if self.queues.world_of(account_id) not in (None, world):
            self._leave_other_queue(account_id)
        try:
            position = self.queues.join(world, account_id, conn)  # keeps an existing place
        except QueueFull:
            raise RpcError("world_full", f"'{world}' is full and so is its queue") from None
        self._watch(conn)
        log.info("%s waits for %s at position %d", quote(name), quote(world), position)
        return QueuePlace(world, position)

    def _has_room(self, world: str) -> bool:
        known = self.registry.get(world)
        assert known is not None
        return (self.registry.accepting(world) and self.queues.length(world) == 0
                and self.queues.free_slots(world, known.population,
                                           known.announcement.capacity) > 0)

    def _issue(self, account_id: int, name: str, world: str,
               cluster: int | None = None) -> WorldEntry:
        known = self.registry.get(world)
        assert known is not None
        announced = known.announcement
        number = announced.cluster if cluster is None else cluster
        ticket = issue_ticket(self._ticket_key(world), kind="world", account_id=account_id,
                              account_name=name, destination=world_server(world, number),
                              ttl_s=self._ttl, clock=self._clock)
        self.queues.hold(world, account_id, self._clock() + self._ttl)
        return WorldEntry(announced.name, announced.host, announced.port, ticket, number)

    def tickets_issued_before_now(self) -> float:
        """The expiry bound of every ticket issued so far (for ``kick_account``)."""
        return self._clock() + self._ttl

    # -------------------------------------------------------------- queue
    def leave(self, conn: RpcConnection, world: str = "") -> bool:
        """Take the connection's account out of its queue; False if it was not queued (there)."""
        account_id, _ = _account(conn)
        if world and self.queues.world_of(account_id) != world:
            return False
        left = self.queues.leave(account_id, contact=conn)
        if left is not None:
            self.advance(left)
        return left is not None

    def drop_account(self, account_id: int) -> None:
        """The account was kicked: it waits no more."""
        left = self.queues.leave(account_id)
        if left is not None:
            self.advance(left)

    def _leave_other_queue(self, account_id: int) -> None:
        left = self.queues.leave(account_id)
        if left is not None:
            self.advance(left)

    def _watch(self, conn: RpcConnection) -> None:
        if conn not in self._watched:
            self._watched.add(conn)
            conn.on_close(self._connection_closed)

    def _connection_closed(self, conn: RpcConnection) -> None:
        self._watched.discard(conn)
        if conn.identity is not None and conn.identity.account_id is not None:
            left = self.queues.leave(conn.identity.account_id, contact=conn)
            if left is not None:
                self.advance(left)

    def heartbeat(self, world: str) -> None:
        """A daemon reported: account for newly arrived players, then move the queue."""
        known = self.registry.get(world)
        if known is not None:
            self.queues.population_changed(world, known.population)
            self.advance(world)

    def advance(self, world: str) -> None:
        """Admit from the head of the queue while there is room; tell everyone else their place."""
        known = self.registry.get(world)
        if known is not None and self.registry.accepting(world):
            for waiter in self.queues.pop_admitted(world, known.population,
                                                   known.announcement.capacity):
                conn: RpcConnection = waiter.contact
                if conn.closed.is_set() or conn.identity is None:
                    continue
                entry = self._issue(waiter.account_id, conn.identity.name, world)
                self._metrics.tickets.labels("queue").inc()
                notify(conn, QueueReady(entry.world, entry.host, entry.port, entry.ticket))
                log.info("%s leaves the queue for %s", quote(conn.identity.name), quote(world))
        for waiter, position in self.queues.moved(world):
            notify(waiter.contact, QueuePosition(world, position))


def _account(conn: RpcConnection) -> tuple[int, str]:
    assert conn.identity is not None and conn.identity.account_id is not None
    return conn.identity.account_id, conn.identity.name
