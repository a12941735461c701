"""WorldImp process: links to a daemon's imp port; starts and stops WorldServers when asked."""

from __future__ import annotations

import asyncio
import logging
import socket

from shardkit.config.settings import ConfigError, Settings
from shardkit.imp.schemas import ImpWorld, Started, StartWorld, StopWorld
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.runtime.peerlog import quote
from shardkit.runtime.process import Child, relay_line, shardkit_command
from shardkit.wire.link import ServiceLink
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import Router, RpcConnection, RpcError, rpc

log = logging.getLogger("shardkit.imp")


class ImpService:
    """What a daemon may ask of its imp."""

    def __init__(self, imp: WorldImp) -> None:
        self.imp = imp

    @rpc("start_world", StartWorld, roles=("daemon",))
    def start_world(self, conn: RpcConnection, p: StartWorld) -> Started:
        """Start (or keep running) the WorldServer of a cluster, dialing back to the daemon."""
        return Started(True, self.imp.start_world(p))

    @rpc("stop_world", StopWorld, roles=("daemon",))
    async def stop_world(self, conn: RpcConnection, p: StopWorld) -> Ok:
        """Stop the WorldServer of a cluster."""
        child = self.imp.children.pop((p.world, p.cluster), None)
        if child is not None:
            await child.stop()
        return Ok()

    @rpc("imp_status", roles=("daemon",))
    def imp_status(self, conn: RpcConnection) -> list[ImpWorld]:
        """The WorldServers this imp runs."""
        return [ImpWorld(w, n, c.pid, c.starts) for (w, n), c in sorted(self.imp.children.items())]


def only_world(settings: Settings) -> str:
    """The world an imp serves when none is named: the one world configured on its machine."""
    if len(settings.worlds) != 1:
        raise ConfigError(f"{settings.config_dir}/worlds has {len(settings.worlds)} worlds;"
                          " say which one this imp serves with --world")
    return next(iter(settings.worlds))


class WorldImp:
    def __init__(self, settings: Settings, daemon_ip: str, daemon_port: int, name: str | None,
                 metrics_port: int = 0, world: str | None = None) -> None:
        self.settings = settings
        self.world = world or only_world(settings)  # the one world whose key this imp proves
        self.daemon_ip = daemon_ip
        self.daemon_port = daemon_port
        self.name = name or socket.gethostname()
        self.children: dict[tuple[str, int], Child] = {}
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

    def start_world(self, p: StartWorld) -> int | None:
        if p.world != self.world:
            raise RpcError("forbidden", f"this imp serves world {quote(self.world)},"
                                        f" not {quote(p.world)}")
        if p.world not in self.settings.worlds:
            raise RpcError("no_such_world", f"this machine has no config for world '{p.world}'")
        key = (p.world, p.cluster)
        child = self.children.get(key)
        if child is None:
            child = Child(
                f"world {p.world}/{p.cluster}",
                shardkit_command(
                    "world", "--root", str(self.settings.root), "--world", p.world,
                    "--cluster", str(p.cluster), "--daemon-ip", self.daemon_ip,
                    "--daemon-port", str(p.daemon_port),
                ),
                on_line=relay_line, hang_timeout_s=self.settings.server.cluster.hang_timeout_s,
            )
            self.children[key] = child
            child.start()
            log.info("starting world %s/%s for the daemon", quote(p.world), p.cluster)
        return child.pid

    async def run(self, stop: asyncio.Event) -> int:
        link = ServiceLink(
            self.daemon_ip, self.daemon_port, role="imp", name=self.name,
            secret=self.settings.secrets.world_link_key(self.world), peer_role="daemon",
            router=Router.for_services(ImpService(self)),
        )
        link.start()
        announce(f"imp {self.name} linking to daemon {self.daemon_ip}:{self.daemon_port}")
        metrics = await self.metrics.serve(self.settings.server.cluster.metrics_host,
                                           self.metrics_port, f"imp {self.name}")
        await stop.wait()
        await metrics.close()
        await asyncio.gather(*(child.stop() for child in self.children.values()))
        await link.stop()
        return 0
