"""Master port methods for services: daemons announce their worlds and heartbeat; the character server asks for daemons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardkit.master.schemas import AnnounceWorld, DaemonAddress, Heartbeat
from shardkit.wire.rpc import RpcConnection, RpcError, rpc

if TYPE_CHECKING:
    from shardkit.master.server import MasterServer


class ServicePort:
    """What world daemons and the character server call on the master."""

    def __init__(self, master: MasterServer) -> None:
        self.master = master

    @rpc("announce_world", AnnounceWorld, roles=("daemon",))
    def announce_world(self, conn: RpcConnection, p: AnnounceWorld) -> dict[str, Any]:
        """A daemon puts its world on the list (again after either side restarts)."""
        assert conn.identity is not None
        if p.name != conn.identity.name:
            raise RpcError("forbidden", f"daemon '{conn.identity.name}' cannot announce '{p.name}'")
        self.master.world_announced(conn, p)
        return {"ok": True}

    @rpc("heartbeat", Heartbeat, roles=("daemon",))
    def heartbeat(self, conn: RpcConnection, p: Heartbeat) -> None:
        """A daemon's periodic population report (a notification is fine)."""
        assert conn.identity is not None
        if p.name == conn.identity.name and self.master.registry.heartbeat(
                p.name, p.population, p.status):
            self.master.gate.heartbeat(p.name)

    @rpc("daemons", roles=("characters",))
    def daemons(self, conn: RpcConnection) -> list[DaemonAddress]:
        """Where each announced world's daemon takes the character server; later ones are notified."""
        self.master.character_servers.add(conn)
        conn.on_close(self.master.character_servers.discard)
        return self.master.registry.daemon_addresses()
