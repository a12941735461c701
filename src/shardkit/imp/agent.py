"""WorldImp process: links to a daemon's imp port; starts and stops WorldServers when asked.

The imp says who it is on every (re)connect (``imp_hello``: host, address, capacity, what it
runs, exits it could not report), pings its daemon, and drops and re-dials a link that goes
silent. The daemon decides every restart (daemon/restarts.py): a WorldServer that exits here
is reported, not restarted. WorldServers keep running while the link is down: they have
their own links to the daemon, and their players are connected to them, not to the imp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from shardkit.config.settings import ConfigError, Settings
from shardkit.daemon.api import ImpLinkApi
from shardkit.imp.schemas import (
    ImpHello,
    ImpWorld,
    StandbyAssignment,
    Started,
    StartWorld,
    StopWorld,
    WorldExit,
)
from shardkit.imp.standby import STANDBY_NAME, Standby, standby_command
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.runtime.peerlog import quote
from shardkit.runtime.private_files import ensure_private_dir
from shardkit.runtime.process import Child, relay_line, shardkit_command
from shardkit.wire.link import ServiceLink
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import Router, RpcConnection, RpcError, rpc

log = logging.getLogger("shardkit.imp")

MAX_HELD_EXITS = 64
"""Exits kept for the daemon while the link is down (the oldest go first)."""

STANDBY_RESPAWN_S = 2.0
"""Wait before replacing a standby that exited without being handed a cluster."""


class ImpService:
    """What a daemon may ask of its imp."""

    def __init__(self, imp: WorldImp) -> None:
        self.imp = imp

    @rpc("start_world", StartWorld, roles=("daemon",))
    async def start_world(self, conn: RpcConnection, p: StartWorld) -> Started:
        """Start (or keep running) the WorldServer of a cluster, dialing back to the daemon."""
        return Started(True, await self.imp.start_world(p))

    @rpc("stop_world", StopWorld, roles=("daemon",))
    async def stop_world(self, conn: RpcConnection, p: StopWorld) -> Ok:
        """Stop the WorldServer of a cluster (SIGTERM: it saves its players first)."""
        child = self.imp.children.pop((p.world, p.cluster), None)
        if child is not None:
            await child.stop()
        return Ok()

    @rpc("imp_status", roles=("daemon",))
    def imp_status(self, conn: RpcConnection) -> list[ImpWorld]:
        """The WorldServers this imp runs."""
        return self.imp.running()


def only_world(settings: Settings) -> str:
    """The world an imp serves when none is named: the one world configured on its machine."""
    if len(settings.worlds) != 1:
        raise ConfigError(f"{settings.config_dir}/worlds has {len(settings.worlds)} worlds;"
                          " say which one this imp serves with --world")
    return next(iter(settings.worlds))


class WorldImp:
    def __init__(self, settings: Settings, daemon_ip: str, daemon_port: int, name: str | None,
                 metrics_port: int = 0, *, capacity: int | None = None,
                 address: str | None = None, standby: bool = True,
                 world: str | None = None) -> None:
        self.settings = settings
        self.world = world or only_world(settings)  # the one world whose key this imp proves
        self.daemon_ip = daemon_ip
        self.daemon_port = daemon_port
        self.name = name or socket.gethostname()
        self.capacity = capacity if capacity is not None else max(1, os.cpu_count() or 1)
        self.address = address or settings.server.cluster.public_address
        self.children: dict[tuple[str, int], Child] = {}
        self.exits: list[WorldExit] = []  # not yet reported: the link was down
        self.use_standby = standby
        self.standby: Standby | None = None
        self._standbys_started = 0
        self._stopping = False
        self.link = ServiceLink(
            daemon_ip, daemon_port, role="imp", name=self.name,
            secret=settings.secrets.world_link_key(self.world), peer_role="daemon",
            router=Router.for_services(ImpService(self)), on_up=self._hello, max_backoff_s=2.0,
        )
        self.metrics_port = metrics_port
        self.metrics = ProcessMetrics()
        self.metrics.live_gauge("shardkit_imp_world_servers_running",
                                "WorldServers this imp runs now.",
                                lambda: {(): sum(1 for c in self.children.values()
                                                 if c.running.is_set())})
        self.metrics.live_gauge("shardkit_imp_world_server_starts",
                                "Times this imp started a WorldServer process (restarts too),"
                                " by world and cluster.",
                                lambda: {(w, str(n)): c.starts
                                         for (w, n), c in self.children.items()},
                                ("world", "cluster"))

    def running(self) -> list[ImpWorld]:
        return [ImpWorld(w, n, c.pid, c.starts) for (w, n), c in sorted(self.children.items())
                if c.running.is_set()]

    async def start_world(self, p: StartWorld) -> int | None:
        """Start the cluster's WorldServer unless it runs; its pid once the process is up."""
        if p.world != self.world:
            raise RpcError("forbidden", f"this imp serves world {quote(self.world)},"
                                        f" not {quote(p.world)}")
        if p.world not in self.settings.worlds:
            raise RpcError("no_such_world", f"this machine has no config for world '{p.world}'")
        key = (p.world, p.cluster)
        child = self.children.get(key)
        if (child is None or (not child.running.is_set() and child.starts)) and (
                self.standby is not None and self.standby.usable):
            child = self.standby.assign(StandbyAssignment(p.world, p.cluster, self.daemon_ip,
                                                          p.daemon_port))
            self.children[key] = child
            self.standby = None
            log.info("world %s/%s handed to the standby (pid %s)", quote(p.world), p.cluster,
                     child.pid)
            self._spawn_standby()
        elif child is None or (not child.running.is_set() and child.starts):
            child = Child(
                f"world {p.world}/{p.cluster}",
                shardkit_command(
                    "world", "--root", str(self.settings.root), "--world", p.world,
                    "--cluster", str(p.cluster), "--daemon-ip", self.daemon_ip,
                    "--daemon-port", str(p.daemon_port),
                ),
                restart=False, on_line=relay_line, on_exit=self._exited,
                hang_timeout_s=self.settings.server.cluster.hang_timeout_s,
            )
            self.children[key] = child
            child.start()
            log.info("starting world %s/%s for the daemon", quote(p.world), p.cluster)
            waiter = asyncio.ensure_future(child.running.wait())
            await asyncio.wait([waiter, asyncio.ensure_future(child.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not child.starts:
                raise RpcError("start_failed", f"world {p.world}/{p.cluster}"
                                               f" {child.exit_reason or 'could not be started'}")
        return child.pid

    def _spawn_standby(self) -> None:
        if not self.use_standby or self._stopping or self.standby is not None:
            return
        self._standbys_started += 1
        folder = ensure_private_dir(self.settings.data_dir / "imp", what="imp folder")
        assignment = folder / f"standby-{os.getpid()}-{self._standbys_started}.json"

        def heard(name: str, line: str) -> None:
            standby.heard(line)
            relay_line(name, line)

        child = Child(f"{STANDBY_NAME} {self._standbys_started}",
                      standby_command(self.settings.root, assignment), restart=False,
                      on_line=heard, on_exit=self._exited,
                      hang_timeout_s=self.settings.server.cluster.hang_timeout_s)
        standby = self.standby = Standby(child, assignment)
        child.start()

    def _exited(self, child: Child, code: int) -> None:
        if child.name.startswith(STANDBY_NAME):  # never handed a cluster: make another
            if self.standby is not None and self.standby.child is child:
                self.standby = None
                if self._stopping:
                    log.info("%s %s", child.name, child.exit_reason)
                    return
                log.warning("%s %s; another in %.0f s", child.name, child.exit_reason,
                            STANDBY_RESPAWN_S)
                asyncio.get_running_loop().call_later(STANDBY_RESPAWN_S, self._spawn_standby)
            return
        world, _, number = child.name.removeprefix("world ").rpartition("/")
        exit_ = WorldExit(world, int(number), child.pid, code, child.exit_reason)
        log.warning("world %s/%s (pid %s) %s", quote(world), number, child.pid, child.exit_reason)
        if self.children.get((world, int(number))) is not child:
            return  # stopped as the daemon asked: it knows
        if not self.link.up.is_set() or self.link.conn is None:
            self.exits = [*self.exits, exit_][-MAX_HELD_EXITS:]
            return
        ImpLinkApi(self.link.conn).world_exited(exit_)

    async def _hello(self, conn: RpcConnection) -> None:
        """On every (re)connect: who we are, what runs here, the exits the daemon missed."""
        exits, self.exits = self.exits, []
        host = socket.gethostname()
        welcome = await ImpLinkApi(conn).hello(
            ImpHello(host, self.address, self.capacity, self.running(), exits))
        announce(f"imp {self.name} linked to daemon of {welcome.world} at"
                 f" {self.daemon_ip}:{self.daemon_port}")
        asyncio.get_running_loop().create_task(
            self._heartbeats(conn, welcome.heartbeat_s, welcome.timeout_s),
            name="imp heartbeats")

    async def _heartbeats(self, conn: RpcConnection, every_s: float, timeout_s: float) -> None:
        """Ping the daemon; a link silent for ``timeout_s`` is closed (and so re-dialled)."""
        api = ImpLinkApi(conn)
        while not conn.closed.is_set():
            await asyncio.sleep(every_s)
            try:
                await api.ping(timeout_s)
            except (TimeoutError, RpcError) as exc:
                if not conn.closed.is_set():
                    log.warning("daemon silent (%s); dropping the link to re-dial", quote(exc))
                    conn.close("daemon silent")
                return

    async def run(self, stop: asyncio.Event) -> int:
        self.link.start()
        self._spawn_standby()
        announce(f"imp {self.name} linking to daemon {self.daemon_ip}:{self.daemon_port}")
        metrics = await self.metrics.serve(self.settings.server.cluster.metrics_host,
                                           self.metrics_port, f"imp {self.name}")
        await stop.wait()
        self._stopping = True
        await metrics.close()
        children, self.children = list(self.children.values()), {}
        if self.standby is not None:
            children.append(self.standby.child)
        await asyncio.gather(*(child.stop() for child in children))
        with contextlib.suppress(Exception):
            await self.link.stop()
        return 0
