"""WorldDaemon process: announces its world to the master, supervises WorldServers, routes to the character server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shardkit.characters.schemas import SaveCharacter
from shardkit.config.settings import ClusterSpec, Settings, WorldSettings
from shardkit.console.access import AccessPolicy
from shardkit.console.commands import CommandSet
from shardkit.console.telnet import start_telnet_console
from shardkit.daemon.backups import BackupVault
from shardkit.daemon.guilds import GuildForwarding
from shardkit.daemon.master_events import MasterEvents
from shardkit.daemon.schemas import (
    AccountCharacter,
    AccountCharacters,
    CharacterRename,
    NewCharacter,
    Population,
    RegisterCluster,
    StartWorld,
)
from shardkit.master.schemas import AnnounceWorld
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.runtime.peerlog import quote
from shardkit.runtime.process import Child, relay_line, shardkit_command
from shardkit.runtime.tasks import background
from shardkit.wire.handshake import ServiceAuth
from shardkit.wire.link import ServiceLink
from shardkit.wire.rpc import Router, RpcConnection, RpcError, RpcServer, params_of, rpc, serve

log = logging.getLogger("shardkit.daemon")

HEARTBEAT_S = 1.0


class WorldServerPort:
    """Methods of port 7000, for this world's WorldServers."""

    def __init__(self, daemon: WorldDaemon) -> None:
        self.daemon = daemon

    @rpc("register_cluster", RegisterCluster, roles=("world",))
    def register_cluster(self, conn: RpcConnection, p: RegisterCluster) -> dict[str, Any]:
        """A WorldServer reports for duty with the address clients reach it at."""
        self.daemon.cluster_registered(conn, p)
        return {"ok": True, "world": self.daemon.world.name}

    @rpc("population", Population, roles=("world",))
    def population(self, conn: RpcConnection, p: Population) -> None:
        """A WorldServer's player count (a notification)."""
        self.daemon.populations[p.number] = max(0, p.players)

    @rpc("list_characters", AccountCharacters, roles=("world",))
    async def list_characters(self, conn: RpcConnection, p: AccountCharacters) -> Any:
        """The account's characters in this world (from the character server)."""
        return await self.daemon.characters("list_characters", self.daemon.world.name, p.account_id)

    @rpc("create_character", NewCharacter, roles=("world",))
    async def create_character(self, conn: RpcConnection, p: NewCharacter) -> Any:
        """Create a character in this world."""
        return await self.daemon.characters(
            "create_character", self.daemon.world.name, p.account_id, p.name, p.zone, p.x, p.y
        )

    @rpc("delete_character", AccountCharacter, roles=("world",))
    async def delete_character(self, conn: RpcConnection, p: AccountCharacter) -> Any:
        """Delete one of the account's characters."""
        return await self.daemon.characters("delete_character", self.daemon.world.name, p.account_id, p.name)

    @rpc("load_character", AccountCharacter, roles=("world",))
    async def load_character(self, conn: RpcConnection, p: AccountCharacter) -> Any:
        """Load a character to put it in play."""
        return await self.daemon.characters("load_character", self.daemon.world.name, p.account_id, p.name)

    @rpc("rename_character", CharacterRename, roles=("world",))
    async def rename_character(self, conn: RpcConnection, p: CharacterRename) -> Any:
        """Rename one of the account's characters (not while it is in play)."""
        return await self.daemon.characters("rename_character", self.daemon.world.name, p.account_id, p.name, p.new_name)

    @rpc("save_character", SaveCharacter, roles=("world",))
    async def save_character(self, conn: RpcConnection, p: SaveCharacter) -> Any:
        """Save a character; answered after the character server committed it."""
        if p.state.world != self.daemon.world.name:
            raise RpcError("forbidden", "a world server saves only its own world's characters")
        return await self.daemon.characters("save_character", p.state, p.final)


class WorldDaemon:
    def __init__(self, settings: Settings, world: WorldSettings) -> None:
        self.settings = settings
        self.world = world
        self.populations: dict[int, int] = {}
        self.clusters: dict[int, tuple[RpcConnection, RegisterCluster]] = {}
        self.characters_conn: RpcConnection | None = None
        self.characters_up = asyncio.Event()
        self.imps: dict[str, RpcConnection] = {}
        self.children: dict[int, Child] = {}
        self.status = "up"
        self._stop = asyncio.Event()
        self.master_link: ServiceLink | None = None
        self.characters_port = world.daemon.characters_port
        self.content_version: str | None = None  # the character server's, once it is linked
        self.metrics = self._declare_metrics()
        self._registered_before: set[int] = set()  # cluster numbers that registered already

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
                           lambda: {world: sum(self.populations.values())}, labels)
        metrics.live_gauge("shardkit_daemon_imps", "WorldImps linked to the daemon.",
                           lambda: {world: len(self.imps)}, labels)
        metrics.live_gauge("shardkit_daemon_character_server_linked",
                           "1 while the character server is linked, else 0.",
                           lambda: {world: float(self.characters_up.is_set())}, labels)
        return metrics

    # ------------------------------------------------------------ clusters
    def _content_problem(self, p: RegisterCluster) -> str | None:
        if self.content_version is None or p.content_version == self.content_version:
            return None
        return (f"WorldServer {self.world.name}/{p.number} has content {p.content_version or 'unknown'}"
                f" but the character server has {self.content_version}; deploy the same content"
                " (cluster.content_dir) to both")

    def cluster_registered(self, conn: RpcConnection, p: RegisterCluster) -> None:
        problem = self._content_problem(p)
        if problem:
            log.error("refused: %s", quote(problem, 300))
            raise RpcError("content_mismatch", problem)
        self.clusters[p.number] = (conn, p)
        self.populations.setdefault(p.number, 0)
        if p.number in self._registered_before:
            self.restarts.labels(self.world.name, str(p.number)).inc()
        self._registered_before.add(p.number)
        log.info("cluster %s of %s registered at %s:%s", p.number, self.world.name, quote(p.host),
                 p.port)

        def gone(_c: RpcConnection) -> None:
            if self.clusters.get(p.number, (None,))[0] is conn:
                del self.clusters[p.number]
                self.populations.pop(p.number, None)

        conn.on_close(gone)
        if self.master_link is not None and self.master_link.conn is not None:
            background(self._announce(self.master_link.conn))

    def entry_point(self) -> tuple[str, int]:
        if self.clusters:
            _, first = self.clusters[min(self.clusters)]
            return first.host, first.port
        return self.settings.server.cluster.public_address, self.world.world_port

    async def characters(self, method: str, *params: Any) -> Any:
        """Call the character server over its link to our port 7001."""
        if not self.characters_up.is_set():
            try:
                await asyncio.wait_for(self.characters_up.wait(), 10.0)
            except TimeoutError:
                raise RpcError("unavailable", "the character server is not connected") from None
        assert self.characters_conn is not None
        return await self.characters_conn.call(method, *params)

    def _characters_connected(self, conn: RpcConnection) -> None:
        old = self.characters_conn
        if old is not None and old is not conn:
            old.close("replaced by a newer character server link")
        self.characters_conn = conn
        log.info("character server linked from %s", conn.peer_ip)
        background(self._check_content(conn))

        def gone(c: RpcConnection) -> None:
            if self.characters_conn is c:
                self.characters_conn = None
                self.characters_up.clear()
                log.warning("character server link lost")

        conn.on_close(gone)

    async def _check_content(self, conn: RpcConnection) -> None:
        """Learn the character server's content version; drop WorldServers that differ."""
        self.content_version = str(await conn.call("content_version"))
        self.characters_up.set()
        for world_conn, registration in list(self.clusters.values()):
            problem = self._content_problem(registration)
            if problem:
                log.error("dropping: %s", quote(problem, 300))
                world_conn.notify("error", {"code": "content_mismatch", "message": problem})
                world_conn.close("content mismatch")

    # ---------------------------------------------------------------- imps
    def _imp_connected(self, conn: RpcConnection) -> None:
        assert conn.identity is not None
        name = conn.identity.name
        self.imps[name] = conn
        conn.on_close(lambda c: self.imps.pop(name, None) if self.imps.get(name) is c else None)
        log.info("imp %s connected from %s", quote(name), conn.peer_ip)
        for spec in self.world.clusters:
            if spec.runs_on == f"imp:{name}":
                background(self._start_on_imp(conn, spec))

    async def _start_on_imp(self, conn: RpcConnection, spec: ClusterSpec) -> None:
        daemon = self.world.daemon
        try:
            await conn.call("start_world", *params_of(StartWorld(self.world.name, spec.number, daemon.host, daemon.world_port)))
        except RpcError as exc:
            log.error("imp could not start cluster %s: %s", spec.number, quote(exc))

    # -------------------------------------------------------------- master
    async def _announce(self, conn: RpcConnection) -> None:
        """Put the world on the master's list, once a WorldServer can take players."""
        if not self.clusters:
            return
        host, port = self.entry_point()
        cfg = self.settings.server.cluster
        await conn.call("announce_world", *params_of(AnnounceWorld(
            self.world.name, host, port, cfg.public_address, self.characters_port,
            self.world.capacity,
        )))
        announce(f"world {self.world.name} is on the master's list at {host}:{port}")

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if self.master_link is not None:
                status = self.status if self.clusters else "down"
                self.master_link.notify("heartbeat", self.world.name, sum(self.populations.values()), status)

    # ------------------------------------------------------------- console
    def console_commands(self) -> CommandSet:
        commands = CommandSet()

        @commands.command("status", "world, clusters, population and links")
        async def status(args: list[str]) -> str:
            lines = [f"world {self.world.name}: {self.status}, {sum(self.populations.values())} players"]
            for number, (_conn, reg) in sorted(self.clusters.items()):
                lines.append(f"  cluster {number} at {reg.host}:{reg.port}, {self.populations.get(number, 0)} players")
            lines.append(f"  character server: {'linked' if self.characters_up.is_set() else 'not linked'}")
            lines.append(f"  imps: {', '.join(sorted(self.imps)) or 'none'}")
            return "\n".join(lines)

        @commands.command("reboot", "restart every WorldServer of this world")
        async def reboot(args: list[str]) -> str:
            background(self.reboot())
            return "rebooting world servers"

        @commands.command("shutdown", "stop this daemon and its world servers")
        async def shutdown(args: list[str]) -> str:
            self._stop.set()
            return "daemon shutting down"

        return commands

    async def reboot(self) -> None:
        self.status = "rebooting"
        for child in list(self.children.values()):
            child.kill(15)  # SIGTERM: zones save, the supervisor restarts it
        for name, conn in self.imps.items():
            for spec in self.world.clusters:
                if spec.runs_on == f"imp:{name}":
                    await conn.call("stop_world", self.world.name, spec.number)
                    await self._start_on_imp(conn, spec)
        self.status = "up"

    # ----------------------------------------------------------------- run
    def _start_local_clusters(self) -> None:
        root = str(self.settings.root)
        for spec in self.world.clusters:
            if spec.runs_on != "local":
                continue
            child = Child(
                f"world {self.world.name}/{spec.number}",
                shardkit_command("world", "--root", root, "--world", self.world.name,
                                 "--cluster", str(spec.number)),
                on_line=relay_line, hang_timeout_s=self.settings.server.cluster.hang_timeout_s,
            )
            self.children[spec.number] = child
            child.start()

    async def run(self, stop: asyncio.Event) -> int:
        self._stop = stop
        settings, world = self.settings, self.world
        secret = settings.secrets.key("daemon_link")
        bind = settings.server.cluster.bind
        d = world.daemon
        ports: list[RpcServer] = [
            await serve(bind, d.world_port, Router.for_services(
                WorldServerPort(self), GuildForwarding(self), BackupVault.for_world(settings, world), ServiceAuth(
                    {"world": secret, "backup": settings.secrets.key("characters_link")},
                    world.name))),
            await serve(bind, d.characters_port, Router.for_services(
                ServiceAuth({"characters": settings.secrets.key("characters_link")}, world.name,
                            self._characters_connected))),
            await serve(bind, d.imp_port, Router.for_services(
                ServiceAuth({"imp": secret}, world.name, self._imp_connected))),
        ]
        self.characters_port = ports[1].port
        announce(f"daemon {world.name} listening on {bind}:{ports[0].port} (world servers), "
                 f"{bind}:{ports[1].port} (character server), {bind}:{ports[2].port} (imps)")
        policy = AccessPolicy(d.console.username, settings.secrets.daemon_console_password,
                              d.console.allowed_ips)
        console = await start_telnet_console(
            d.console.host, d.console.port, policy=policy, commands=self.console_commands(),
            banner=f"shardkit daemon of {world.name}",
        )
        announce(f"daemon {world.name} console (telnet) listening on {d.console.host}:{console.port}"
                 f" allowing {', '.join(d.console.allowed_ips)}")
        metrics = await self.metrics.serve(settings.server.cluster.metrics_host, d.metrics_port,
                                           f"daemon {world.name}")
        master = settings.server.master
        self.master_link = ServiceLink(
            master.host, master.port, role="daemon", name=world.name,
            secret=settings.secrets.key("master_link"), peer_role="master", on_up=self._announce,
            router=Router.for_services(MasterEvents(self)),
        )
        self.master_link.start()
        heartbeats = asyncio.create_task(self._heartbeats())
        self._start_local_clusters()
        await stop.wait()
        log.info("daemon %s stopping", world.name)
        heartbeats.cancel()
        await asyncio.gather(*(child.stop() for child in self.children.values()))
        console.close()
        await metrics.close()
        await self.master_link.stop()
        for port in ports:
            await port.close()
        return 0
