"""WorldImp process: links to a daemon's imp port and starts or stops WorldServers on this machine when asked."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from shardkit.config.settings import Settings
from shardkit.daemon.schemas import StartWorld, StopWorld
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.runtime.peerlog import quote
from shardkit.runtime.process import Child, relay_line, shardkit_command
from shardkit.wire.link import ServiceLink
from shardkit.wire.rpc import Router, RpcConnection, RpcError, rpc

log = logging.getLogger("shardkit.imp")


class ImpService:
    """What a daemon may ask of its imp."""

    def __init__(self, imp: WorldImp) -> None:
        self.imp = imp

    @rpc("start_world", StartWorld, roles=("daemon",))
    def start_world(self, conn: RpcConnection, p: StartWorld) -> dict[str, Any]:
        """Start (or keep running) the WorldServer of a cluster, dialing back to the daemon."""
        return {"ok": True, "pid": self.imp.start_world(p)}

    @rpc("stop_world", StopWorld, roles=("daemon",))
    async def stop_world(self, conn: RpcConnection, p: StopWorld) -> dict[str, Any]:
        """Stop the WorldServer of a cluster."""
        child = self.imp.children.pop((p.world, p.cluster), None)
        if child is not None:
            await child.stop()
        return {"ok": True}

    @rpc("imp_status", roles=("daemon",))
    def imp_status(self, conn: RpcConnection) -> list[dict[str, Any]]:
        """The WorldServers this imp runs."""
        return [{"world": w, "cluster": n, "pid": c.pid, "starts": c.starts}
                for (w, n), c in sorted(self.imp.children.items())]


class WorldImp:
    def __init__(self, settings: Settings, daemon_ip: str, daemon_port: int, name: str | None,
                 metrics_port: int = 0) -> None:
        self.settings = settings
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
            secret=self.settings.secrets.key("daemon_link"), peer_role="daemon",
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
