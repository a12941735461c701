"""The daemon's imp port (7005) services, and the world layout status call."""

from __future__ import annotations

import logging

import msgspec

from shardkit.config.settings import Supervision
from shardkit.daemon.layout_schemas import WorldLayout
from shardkit.daemon.supervise import WorldSupervisor
from shardkit.imp.schemas import ImpHello, ImpWelcome, WorldExit
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.wire.text import clean_text

log = logging.getLogger("shardkit.daemon")

MAX_IMP_WORLDS = 256
"""Entries of an imp's hello lists (running, exits) the daemon reads; more is refused."""


def _imp_name(conn: RpcConnection) -> str:
    if conn.identity is None:
        raise RpcError("auth_required", "authenticate first")
    return conn.identity.name


class ImpPort:
    """What a WorldImp calls on its daemon: hello on each link, pings, its WorldServers' exits."""

    def __init__(self, supervisor: WorldSupervisor, policy: Supervision) -> None:
        self.supervisor = supervisor
        self.policy = policy

    @rpc("imp_hello", ImpHello, roles=("imp",))
    def imp_hello(self, conn: RpcConnection, p: ImpHello) -> ImpWelcome:
        """The imp's host, address and capacity, what it runs, and exits it could not report."""
        if len(p.running) > MAX_IMP_WORLDS or len(p.exits) > MAX_IMP_WORLDS:
            raise RpcError("bad_params", f"at most {MAX_IMP_WORLDS} running worlds and exits")
        name = _imp_name(conn)
        hello = msgspec.structs.replace(
            p, host=clean_text(p.host, 255), address=clean_text(p.address, 255),
            capacity=max(0, min(p.capacity, 1000)),
            running=[msgspec.structs.replace(w, world=clean_text(w.world, 64))
                     for w in p.running],
            exits=[msgspec.structs.replace(e, world=clean_text(e.world, 64),
                                           reason=clean_text(e.reason, 200)) for e in p.exits])
        log.info("imp %s on %s (%s) linked from %s: capacity %d, running %d world servers",
                 quote(name), quote(hello.host), quote(hello.address), conn.peer_ip,
                 hello.capacity, len(hello.running))
        self.supervisor.imp_linked(name, conn, hello)
        return ImpWelcome(self.supervisor.world.name, self.policy.imp_heartbeat_s,
                          self.policy.imp_timeout_s)

    @rpc("imp_ping", roles=("imp",))
    def imp_ping(self, conn: RpcConnection) -> Ok:
        """The imp's heartbeat: a link silent for ``imp_timeout_s`` is dropped (both ways)."""
        self.supervisor.imp_heard(_imp_name(conn))
        return Ok()

    @rpc("world_exited", WorldExit, roles=("imp",))
    def world_exited(self, conn: RpcConnection, p: WorldExit) -> None:
        """A WorldServer the imp started has exited (a notification)."""
        name = _imp_name(conn)
        self.supervisor.imp_heard(name)
        self.supervisor.imp_exited(name, msgspec.structs.replace(
            p, world=clean_text(p.world, 64), reason=clean_text(p.reason, 200)))


class LayoutPort:
    """The status of the world's layout, for the daemon's peers and operators' tools."""

    def __init__(self, supervisor: WorldSupervisor) -> None:
        self.supervisor = supervisor

    @rpc("world_layout", roles=("world", "characters", "imp", "backup"))
    def world_layout(self, conn: RpcConnection) -> WorldLayout:
        """Every WorldServer (where, state, pid, restarts, crash loop) and imp of this world."""
        return self.supervisor.book.status()

