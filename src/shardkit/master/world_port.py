"""Master port methods for logged-in players: the world list, entering a world, leaving its queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardkit.master.schemas import EnterWorld, LeaveQueue, QueuePlace, WorldEntry, WorldInfo
from shardkit.wire.rpc import RpcConnection, rpc

if TYPE_CHECKING:
    from shardkit.master.server import MasterServer


class WorldPort:
    """What a logged-in player asks of the master about worlds."""

    def __init__(self, master: MasterServer) -> None:
        self.master = master

    @rpc("worlds")
    def worlds(self, conn: RpcConnection) -> list[WorldInfo]:
        """The world list: name, status (up, full, rebooting, down), population, capacity, queue."""
        return self.master.gate.listing()

    @rpc("enter_world", EnterWorld)
    def enter_world(self, conn: RpcConnection, p: EnterWorld) -> WorldEntry | QueuePlace:
        """A world's address and a single-use ticket, or a place in its queue if it is full."""
        with self.master.metrics.timer("enter_world"):
            return self.master.gate.enter(conn, p.world)

    @rpc("leave_queue", LeaveQueue)
    def leave_queue(self, conn: RpcConnection, p: LeaveQueue) -> dict[str, Any]:
        """Stop waiting for a world (the one named, or whichever we wait for)."""
        return {"ok": self.master.gate.leave(conn, p.world)}
