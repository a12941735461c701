"""The services linked to the master: each world's daemon, and the character servers."""

from __future__ import annotations

import logging

from shardkit.master.gate import WorldGate
from shardkit.master.notifications import KickAccount, WorldAnnounced
from shardkit.master.schemas import AnnounceWorld, DaemonAddress
from shardkit.master.session import sessions
from shardkit.master.worlds import WorldRegistry
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcConnection

log = logging.getLogger("shardkit.master")


class ServiceLinks:
    """World name -> the daemon link that announced it; the character servers to tell."""

    def __init__(self, registry: WorldRegistry, gate: WorldGate) -> None:
        self.registry = registry
        self.gate = gate
        self.daemons: dict[str, RpcConnection] = {}
        self.character_servers: set[RpcConnection] = set()

    def world_announced(self, conn: RpcConnection, world: AnnounceWorld) -> None:
        """A daemon put its world on the list: character servers link to it, its queue moves."""
        self.registry.announce(world)
        self.daemons[world.name] = conn
        log.info("world %s announced at %s:%s", quote(world.name), quote(world.host), world.port)

        def gone(c: RpcConnection) -> None:
            if self.daemons.get(world.name) is c:
                del self.daemons[world.name]
                self.registry.mark_down(world.name)

        session = sessions.of(conn)
        if not session.announced:  # a daemon re-announces on the same link often
            session.announced = True
            conn.on_close(gone)
        announced = WorldAnnounced(world.name, world.characters_host, world.characters_port)
        for characters in self.character_servers:
            notify(characters, announced)
        self.gate.advance(world.name)

    def character_server_joined(self, conn: RpcConnection) -> list[DaemonAddress]:
        """A character server asks where the daemons are; it is told of later ones too."""
        self.character_servers.add(conn)
        conn.on_close(self.character_servers.discard)
        return self.registry.daemon_addresses()

    def kick_everywhere(self, kick: KickAccount) -> int:
        """Tell every world's daemon to put the account out of play; how many were told."""
        for daemon in self.daemons.values():
            notify(daemon, kick)
        return len(self.daemons)
