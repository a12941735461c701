"""Master port methods for services: daemons announce worlds and heartbeat; daemons listed."""

from __future__ import annotations

from shardkit.master.gate import WorldGate
from shardkit.master.schemas import AnnounceWorld, DaemonAddress, Heartbeat
from shardkit.master.services import ServiceLinks
from shardkit.master.worlds import WorldRegistry
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import RpcConnection, RpcError, rpc


class ServicePort:
    """What world daemons and the character server call on the master."""

    def __init__(self, registry: WorldRegistry, gate: WorldGate, links: ServiceLinks) -> None:
        self.registry = registry
        self.gate = gate
        self.links = links

    @rpc("announce_world", AnnounceWorld, roles=("daemon",))
    def announce_world(self, conn: RpcConnection, p: AnnounceWorld) -> Ok:
        """A daemon puts its world on the list (again after either side restarts)."""
        assert conn.identity is not None
        if p.name != conn.identity.name:
            raise RpcError("forbidden", f"daemon '{conn.identity.name}' cannot announce '{p.name}'")
        self.links.world_announced(conn, p)
        return Ok()

    @rpc("heartbeat", Heartbeat, roles=("daemon",))
    def heartbeat(self, conn: RpcConnection, p: Heartbeat) -> None:
        """A daemon's periodic population report (a notification is fine)."""
        assert conn.identity is not None
        if p.name == conn.identity.name and self.registry.heartbeat(
                p.name, p.population, p.status, [c[:16] for c in p.crash_loops[:64]]):
            self.gate.heartbeat(p.name)

    @rpc("daemons", roles=("characters",))
    def daemons(self, conn: RpcConnection) -> list[DaemonAddress]:
        """Where each announced world's daemon takes the character server (later: notified)."""
        return self.links.character_server_joined(conn)
