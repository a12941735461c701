"""WorldServer process: admits ticket holders, relays their characters, runs its zone processes."""

from __future__ import annotations

import asyncio
import logging
import os

from shardkit.config.settings import ClusterSpec, Settings, WorldSettings
from shardkit.console.access import AccessPolicy
from shardkit.console.ssh import start_ssh_console
from shardkit.content import Content, ContentError, content_dir, load_content
from shardkit.daemon.api import DaemonApi
from shardkit.daemon.schemas import RegisterCluster
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.runtime.process import Child, relay_line, shardkit_command
from shardkit.wire.handshake import ServiceAuth, derive_key
from shardkit.wire.link import ServiceLink
from shardkit.wire.rpc import Router, RpcConnection, RpcServer, serve
from shardkit.world.characters import CharacterPort, checks, fillers
from shardkit.world.chat import ChatEvents, ChatRelay
from shardkit.world.console import WorldConsole
from shardkit.world.daemon_events import DaemonEvents
from shardkit.world.entry import GameEntry
from shardkit.world.gm import WorldGM
from shardkit.world.going_down import PlannedStop
from shardkit.world.guilds import GuildChatEvents, GuildPort
from shardkit.world.players import Players
from shardkit.world.ports import PlayerPort, ZonePort
from shardkit.world.status import WorldStatus
from shardkit.world.tickets import WorldTickets
from shardkit.world.transfer import (
    Arrivals,
    TransferAdmission,
    TransferLogin,
    TransferRedirect,
    TransferRelay,
)
from shardkit.world.zones import Zones
from shardkit.zone.schemas import ZONE_SECRET_ENV

__all__ = ["PlayerPort", "WorldServer", "ZonePort"]

log = logging.getLogger("shardkit.world")


class WorldServer:
    def __init__(
        self, settings: Settings, world: WorldSettings, cluster: int,
        daemon_host: str | None = None, daemon_port: int | None = None,
    ) -> None:
        self.settings = settings
        self.world = world
        self.spec: ClusterSpec = world.cluster(cluster)
        self.daemon_host = daemon_host or world.daemon.host
        self.daemon_port = daemon_port or world.daemon.world_port
        zone_secret = os.urandom(32)
        self.zone_secret = zone_secret
        self.zone_link_key = derive_key(zone_secret, "zone-link")
        self.zone_ticket_key = derive_key(zone_secret, "zone-ticket")
        self.players = Players(self._report_population)
        self.zones = Zones(self.spec.zones, self.players, self._all_zones_up)
        self.planned = PlannedStop(self.players, self.label)
        self.arrivals = Arrivals()  # characters admitted through a portal, on their way here
        self.children: dict[str, Child] = {}
        self.port: RpcServer | None = None
        self.daemon = ServiceLink(
            self.daemon_host, self.daemon_port, role="world", name=self.label,
            secret=settings.secrets.world_link_key(world.name), peer_role="daemon",
            on_up=self._on_daemon_up,
            router=Router.for_services(
                GuildChatEvents(self.players), ChatEvents(self.players),
                DaemonEvents(self.players, self.zones), self.planned,
                WorldStatus(self.zones, self.children),
                WorldGM(self.players, self.zones, world=world.name, cluster=self.spec.number),
                TransferAdmission(self.zones, self.arrivals,
                                  ticket_key=settings.secrets.world_ticket_key(world.name),
                                  label=self.label, host=settings.server.cluster.public_address,
                                  port=self._port_number, cluster=self.spec.number)),
        )
        self.tickets = WorldTickets(settings.secrets.world_ticket_key(world.name), self.daemon,
                                    self.label)
        self.content: Content
        self.metrics = self._declare_metrics()

    def _declare_metrics(self) -> ProcessMetrics:
        metrics = ProcessMetrics()
        me = (self.world.name, str(self.spec.number))
        labels = ("world", "cluster")
        zone_labels = ("world", "cluster", "zone")
        metrics.live_gauge("shardkit_world_players", "Players logged in to this WorldServer.",
                           lambda: {me: len(self.players)}, labels)
        metrics.live_gauge("shardkit_world_zones_up", "Zones of this WorldServer that are up.",
                           lambda: {me: len(self.zones.links)}, labels)
        metrics.live_gauge("shardkit_world_zone_players",
                           "Players in each zone (the zone's count).",
                           lambda: {(*me, z): n for z, n in self.zones.population.items()},
                           zone_labels)
        metrics.live_gauge("shardkit_world_zone_starts",
                           "Times each zone process was started (restarts too).",
                           lambda: {(*me, z): c.starts for z, c in self.children.items()},
                           zone_labels)
        metrics.live_histogram("shardkit_world_zone_tick_seconds",
                               "Each zone's tick times since the zone started (the zone reports).",
                               lambda: {(*me, z): h for z, h in self.zones.ticks.items()},
                               zone_labels)
        return metrics

    @property
    def label(self) -> str:
        return f"{self.world.name}/{self.spec.number}"

    def zone_port(self, index: int) -> int:
        """Zone i's port; 0 (any free port) when the base is 0, as tests use."""
        base = self.world.zone_base_port
        return base + 100 * self.spec.number + index if base else 0

    def zone_metrics_port(self, index: int) -> int:
        """Zone i's /metrics port; 0 (any free port) when the base is 0, the default."""
        base = self.world.zone_metrics_base_port
        return base + 100 * self.spec.number + index if base else 0

    def _port_number(self) -> int:
        assert self.port is not None
        return self.port.port

    def _report_population(self, players: int) -> None:
        DaemonApi(self.daemon).population(self.spec.number, players)

    def _all_zones_up(self) -> None:
        announce(f"world {self.label} ready: {len(self.zones.links)} zones up")

    def router(self) -> Router:
        """The world port's services: players, their relayed calls, and the zones."""
        first_zone = self.spec.zones[0]
        fill = fillers((first_zone, *self.content.zone(first_zone).spawn_rect.center))
        own_checks = checks(self.players)
        entry = GameEntry(self.daemon, self.players, self.zones, ticket_key=self.zone_ticket_key,
                          public_address=self.settings.server.cluster.public_address,
                          redirect=TransferRedirect(self.daemon, self.world, self.spec.number))
        return Router.for_services(
            PlayerPort(self.tickets, self.players, entry, world=self.world.name,
                       cluster=self.spec.number),
            CharacterPort(self.daemon, fill=fill, checks=own_checks),
            GuildPort(self.daemon, fill=fill, checks=own_checks),
            ZonePort(self.zones, cluster=self.spec.number),
            ChatRelay(self.daemon),
            TransferRelay(self.daemon),
            TransferLogin(self.players, entry, self.arrivals,
                          ticket_key=self.settings.secrets.world_ticket_key(self.world.name),
                          label=self.label,
                          world=self.world.name, cluster=self.spec.number),
            ServiceAuth({"zone": self.zone_link_key}, self.label),
        )

    def _start_zones(self) -> None:
        bind = self.settings.server.cluster.bind
        assert self.port is not None
        for index, zone in enumerate(self.spec.zones):
            child = Child(
                f"zone {zone}",
                shardkit_command(
                    "zone", "--root", str(self.settings.root), "--world", self.world.name,
                    "--zone", zone, "--port", str(self.zone_port(index)),
                    "--metrics-port", str(self.zone_metrics_port(index)),
                    "--worldport", str(self.port.port), "--bind", bind,
                ),
                env={ZONE_SECRET_ENV: self.zone_secret.hex()},
                on_line=relay_line, hang_timeout_s=self.settings.server.cluster.hang_timeout_s,
            )
            self.children[zone] = child
            child.start()

    # ----------------------------------------------------------------- run
    async def _on_daemon_up(self, conn: RpcConnection) -> None:
        public = self.settings.server.cluster.public_address
        assert self.port is not None
        daemon = DaemonApi(conn)
        await daemon.register_cluster(RegisterCluster(
            self.spec.number, public, self.port.port, self.content.version))
        daemon.population(self.spec.number, len(self.players))

    async def run(self, stop: asyncio.Event) -> int:
        try:
            self.content = await asyncio.to_thread(load_content, content_dir(
                self.settings.server.cluster.content_dir, self.settings.root))
            for zone in self.spec.zones:
                self.content.zone(zone)  # every zone we run must be defined by the content
        except ContentError as exc:
            log.error("cannot start: %s", exc)
            return 2
        settings, world = self.settings, self.world
        bind = settings.server.cluster.bind
        self.port = await serve(bind, _offset(world.world_port, self.spec.number), self.router())
        announce(f"world {self.label} listening on {bind}:{self.port.port}")
        ssh_cfg = world.ssh
        policy = AccessPolicy(ssh_cfg.username, settings.secrets.world_console_password,
                              ssh_cfg.allowed_ips)
        console = await start_ssh_console(
            ssh_cfg.host, ssh_cfg.port or _offset(world.ssh_port, self.spec.number),
            policy=policy, commands=WorldConsole(self.label, self.spec, self.players, self.zones,
                                                 self.children).commands(),
            host_key_path=settings.data_dir / "ssh_host_key",
            banner=f"shardkit world server {self.label}",
        )
        announce(f"world {self.label} console (ssh) listening on {ssh_cfg.host}:{console.port}"
                 f" allowing {', '.join(ssh_cfg.allowed_ips)}")
        metrics = await self.metrics.serve(settings.server.cluster.metrics_host,
                                           _offset(world.metrics_port, self.spec.number),
                                           f"world {self.label}")
        self.daemon.start()
        self._start_zones()
        await stop.wait()
        self.planned.stopping()
        self.zones.stopping = self.planned.planned
        log.info("world server %s stopping (planned %s)", self.label, self.planned.planned)
        await asyncio.gather(*(child.stop() for child in self.children.values()))
        console.close()
        await metrics.close()
        await self.daemon.stop()
        await self.port.close()
        return 0


def _offset(base: int, cluster: int) -> int:
    """Cluster N's port is base + N; a base of 0 means any free port."""
    return base + cluster if base else 0
