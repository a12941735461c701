"""Master port methods for logged-in players: the world list, entering a world, its queue."""

from __future__ import annotations

from shardkit.master.gate import WorldGate
from shardkit.master.metrics import MasterMetrics
from shardkit.master.schemas import EnterWorld, LeaveQueue, QueuePlace, WorldEntry, WorldInfo
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import RpcConnection, rpc


class WorldPort:
    """What a logged-in player asks of the master about worlds."""

    def __init__(self, gate: WorldGate, metrics: MasterMetrics) -> None:
        self.gate = gate
        self.metrics = metrics

    @rpc("worlds")
    def worlds(self, conn: RpcConnection) -> list[WorldInfo]:
        """The world list: name, status (up, full, rebooting, down), population, capacity, queue."""
        return self.gate.listing()

    @rpc("enter_world", EnterWorld)
    def enter_world(self, conn: RpcConnection, p: EnterWorld) -> WorldEntry | QueuePlace:
        """A world's address and a single-use ticket, or a place in its queue if it is full."""
        with self.metrics.timer("enter_world"):
            return self.gate.enter(conn, p.world, p.cluster)

    @rpc("leave_queue", LeaveQueue)
    def leave_queue(self, conn: RpcConnection, p: LeaveQueue) -> Ok:
        """Stop waiting for a world (the one named, or whichever we wait for)."""
        return Ok(self.gate.leave(conn, p.world))
