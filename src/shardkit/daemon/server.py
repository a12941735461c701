"""WorldDaemon process: announces its world, supervises WorldServers, links the character server."""

from __future__ import annotations

import asyncio
import logging

from shardkit.characters.api import CharactersApi
from shardkit.config.settings import Settings, WorldSettings
from shardkit.console.access import AccessPolicy
from shardkit.console.telnet import start_telnet_console
from shardkit.daemon.backups import BackupVault
from shardkit.daemon.characters import CharacterForwarding
from shardkit.daemon.chat import WorldChat
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.console import DaemonConsole
from shardkit.daemon.gm import GMFanOut, GMWorldForwarding, cluster_route
from shardkit.daemon.guilds import GuildChat, GuildForwarding
from shardkit.daemon.imps import ImpPort, LayoutPort
from shardkit.daemon.layout_schemas import WorldLayout
from shardkit.daemon.master_events import MasterEvents
from shardkit.daemon.reboot import Rebooter
from shardkit.daemon.save_backlog import SaveBacklog
from shardkit.daemon.schedule import ScheduledReboots
from shardkit.daemon.schemas import ClusterRegistered, Population, RegisterCluster
from shardkit.daemon.supervise import WorldSupervisor
from shardkit.daemon.tickets import TicketBook
from shardkit.daemon.transfer import AdmitForwarding, Transfers
from shardkit.daemon.world_keys import imp_keys, world_server_keys
from shardkit.master.api import MasterServiceApi
from shardkit.master.schemas import AnnounceWorld, Heartbeat
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.runtime.tasks import background
from shardkit.wire.handshake import ServiceAuth
from shardkit.wire.link import InboundLink, ServiceLink
from shardkit.wire.rpc import Router, RpcConnection, RpcServer, rpc, serve

log = logging.getLogger("shardkit.daemon")

HEARTBEAT_S = 1.0


class WorldServerPort:
    """Methods of port 7000 for this world's WorldServers (their relayed calls aside)."""

    def __init__(self, clusters: ClusterRegistry) -> None:
        self.clusters = clusters

    @rpc("register_cluster", RegisterCluster, roles=("world",))
    def register_cluster(self, conn: RpcConnection, p: RegisterCluster) -> ClusterRegistered:
        """A WorldServer reports for duty with the address clients reach it at."""
        self.clusters.register(conn, p)
        return ClusterRegistered(True, self.clusters.world)

    @rpc("population", Population, roles=("world",))
    def population(self, conn: RpcConnection, p: Population) -> None:
        """A WorldServer's player count (a notification)."""
        self.clusters.set_population(p.number, p.players)


class WorldDaemon:
    def __init__(self, settings: Settings, world: WorldSettings) -> None:
        self.settings = settings
        self.world = world
        self.clusters = ClusterRegistry(world.name, self._cluster_registered)
        self.characters = InboundLink("the character server", on_up=self._check_content)
        self.supervisor = WorldSupervisor(settings, world, self.clusters)
        self.status = "up"
        self._stop = asyncio.Event()
        self.master_link: ServiceLink | None = None
        self.characters_port = world.daemon.characters_port
        self.metrics = self._declare_metrics()
        self._registered_before: set[int] = set()  # cluster numbers that registered already
        self._characters_seen = False  # the character server was linked once
        self.backlog = SaveBacklog(self.characters)
        self.rebooter = Rebooter(self.clusters, self, on_shutdown=lambda: self._stop.set())
        self.schedule = (ScheduledReboots(world.reboot, self._scheduled_reboot,
                                          lambda: self.rebooter.last_reboot)
                         if world.reboot.daily_at else None)

    def _declare_metrics(self) -> ProcessMetrics:
        metrics = ProcessMetrics()
        world = (self.world.name,)
        labels = ("world",)
        metrics.live_gauge("shardkit_daemon_world_servers_up",
                           "WorldServers registered with the daemon now.",
                           lambda: {world: len(self.clusters)}, labels)
        metrics.live_gauge("shardkit_daemon_world_servers_configured",
                           "WorldServers the world's config asks for.",
                           lambda: {world: len(self.world.clusters)}, labels)
        self.restarts = metrics.counter(
            "shardkit_daemon_world_server_restarts_total",
            "WorldServers that registered again (restarted after a crash, hang or reboot).",
            ("world", "cluster"))
        metrics.live_gauge("shardkit_daemon_population", "Players on the world's WorldServers.",
                           lambda: {world: self.clusters.population()}, labels)
        metrics.live_gauge("shardkit_daemon_world_server_crash_loop",
                           "1 while a WorldServer is marked crash-looping, else 0.",
                           lambda: {(self.world.name, str(n)): float(slot.tracker.crash_loop)
                                    for n, slot in self.supervisor.book.slots.items()},
                           ("world", "cluster"))
        metrics.live_gauge("shardkit_daemon_imps", "WorldImps linked to the daemon.",
                           lambda: {world: sum(imp.linked for imp in
                                            self.supervisor.book.imps.values())}, labels)
        metrics.live_gauge("shardkit_daemon_character_server_linked",
                           "1 while the character server is linked, else 0.",
                           lambda: {world: float(self.characters.up.is_set())}, labels)
        return metrics

    # ------------------------------------------------------------ clusters
    def _cluster_registered(self, number: int) -> None:
        if number in self._registered_before:
            self.restarts.labels(self.world.name, str(number)).inc()
        self._registered_before.add(number)
        self.rebooter.registered(number)
        if self.master_link is not None and self.master_link.conn is not None:
            background(self._announce(self.master_link.conn))

    def entry_point(self) -> tuple[str, int]:
        return self.clusters.entry_point() or (self.settings.server.cluster.public_address,
                                               self.world.world_port)

    async def _check_content(self, conn: RpcConnection) -> None:
        """Learn the character server's content version; drop WorldServers that differ."""
        self.clusters.content_known(await CharactersApi(conn).content_version())
        self._characters_seen = True

    # -------------------------------------------------------------- master
    async def _announce(self, conn: RpcConnection) -> None:
        """Put the world on the master's list, once a WorldServer can take players."""
        if not self.clusters:
            return
        host, port = self.entry_point()
        cfg = self.settings.server.cluster
        await MasterServiceApi(conn).announce_world(AnnounceWorld(
            self.world.name, host, port, cfg.public_address, self.characters_port,
            self.world.capacity, self.clusters.listing()[0][0],  # the entry point's number
        ))
        announce(f"world {self.world.name} is on the master's list at {host}:{port}")

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if self.master_link is not None:
                status = self.status if self.clusters else "down"
                if status == "up" and self._characters_seen and not self.characters.up.is_set():
                    status = "unavailable"  # the master refuses entry: characters cannot load
                MasterServiceApi(self.master_link).heartbeat(
                    Heartbeat(self.world.name, self.clusters.population(), status,
                              self._crash_loops()))

    def _crash_loops(self) -> list[str]:
        return [str(n) for n, slot in sorted(self.supervisor.book.slots.items())
                if slot.tracker.crash_loop]

    # ------------------------------------------ console and reboots (reboot.py)
    def layout(self) -> WorldLayout:
        return self.supervisor.book.status()

    def _scheduled_reboot(self, countdown_s: float) -> None:
        if self.rebooter.busy:
            log.info("scheduled reboot skipped: a reboot or shutdown is under way")
            return
        self.rebooter.start("reboot", [spec.number for spec in self.world.clusters], countdown_s)

    async def stop_cluster(self, number: int) -> None:
        """Stop one WorldServer as planned (its zones save everyone); the supervisor starts
        it again at once (no back-off for a planned stop)."""
        await self.supervisor.restart(number)

    async def start_cluster(self, number: int) -> None:
        """Nothing to do: the supervisor starts a WorldServer stopped as planned again."""

    # ----------------------------------------------------------------- run
    async def run(self, stop: asyncio.Event) -> int:
        self._stop = stop
        settings, world = self.settings, self.world
        bind = settings.server.cluster.bind
        d = world.daemon
        ports: list[RpcServer] = [
            await serve(bind, d.world_port, Router.for_services(
                WorldServerPort(self.clusters), LayoutPort(self.supervisor),
                CharacterForwarding(self.backlog),  # the character server's link, saves counted
                GuildForwarding(self.characters),
                GuildChat(CharactersApi(self.characters), self.clusters,
                          chat_per_s=world.chat_per_s, chat_burst=world.chat_burst),
                WorldChat(self.clusters, chat_per_s=world.chat_per_s, chat_burst=world.chat_burst),
                Transfers(self.characters, self.clusters),
                AdmitForwarding(route=cluster_route(self.clusters)),
                BackupVault.for_world(settings, world),
                TicketBook(),
                ServiceAuth({"world": world_server_keys(settings, world.name),
                             "backup": settings.secrets.key("characters_link")}, world.name))),
            await serve(bind, d.characters_port, Router.for_services(
                ServiceAuth({"characters": settings.secrets.key("characters_link")}, world.name,
                            self.characters.attach),
                GMWorldForwarding(route=cluster_route(self.clusters)),
                GMFanOut(self.clusters), LayoutPort(self.supervisor))),
            await serve(bind, d.imp_port, Router.for_services(
                ImpPort(self.supervisor, world.supervision), LayoutPort(self.supervisor),
                ServiceAuth(imp_keys(settings, world.name), world.name))),
        ]
        self.characters_port = ports[1].port
        self.supervisor.daemon_port = ports[0].port
        announce(f"daemon {world.name} listening on {bind}:{ports[0].port} (world servers), "
                 f"{bind}:{ports[1].port} (character server), {bind}:{ports[2].port} (imps)")
        policy = AccessPolicy(d.console.username, settings.secrets.daemon_console_password,
                              d.console.allowed_ips)
        console = await start_telnet_console(
            d.console.host, d.console.port, policy=policy, commands=DaemonConsole(self).commands(),
            banner=f"shardkit daemon of {world.name}",
        )
        announce(f"daemon {world.name} console (telnet) listening on"
                 f" {d.console.host}:{console.port}"
                 f" allowing {', '.join(d.console.allowed_ips)}")
        metrics = await self.metrics.serve(settings.server.cluster.metrics_host, d.metrics_port,
                                           f"daemon {world.name}")
        master = settings.server.master
        self.master_link = ServiceLink(
            master.host, master.port, role="daemon", name=world.name,
            secret=settings.secrets.world_key(world.name), peer_role="master",
            on_up=self._announce,
            router=Router.for_services(MasterEvents(self.clusters)),
        )
        self.master_link.start()
        heartbeats = asyncio.create_task(self._heartbeats())
        scheduled = asyncio.create_task(self.schedule.run()) if self.schedule else None
        self.supervisor.start()
        await stop.wait()
        log.info("daemon %s stopping", world.name)
        heartbeats.cancel()
        if scheduled is not None:
            scheduled.cancel()
        await self.supervisor.stop()
        console.close()
        await metrics.close()
        await self.master_link.stop()
        for port in ports:
            await port.close()
        return 0
