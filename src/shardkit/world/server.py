"""WorldServer process: admits clients holding a master ticket, manages characters, runs its zone processes."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import msgspec

from shardkit.characters.names import character_name_problem
from shardkit.characters.schemas import CharacterState, CharacterSummary, SaveCharacter, SaveResult
from shardkit.config.settings import ClusterSpec, Settings, WorldSettings
from shardkit.console.access import AccessPolicy
from shardkit.console.commands import CommandSet
from shardkit.console.ssh import start_ssh_console
from shardkit.content import Content, ContentError, content_dir, load_content
from shardkit.daemon.schemas import RegisterCluster
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import HistogramSnapshot, ProcessMetrics
from shardkit.runtime.peerlog import quote
from shardkit.runtime.process import Child, relay_line, shardkit_command
from shardkit.runtime.turns import KeyedTurns
from shardkit.wire.handshake import ServiceAuth, derive_key
from shardkit.wire.link import ServiceLink
from shardkit.wire.rpc import (
    Identity,
    Router,
    RpcConnection,
    RpcError,
    RpcServer,
    params_of,
    rpc,
    serve,
)
from shardkit.wire.tickets import TicketRedeemer, issue_ticket
from shardkit.world.daemon_events import TICKET_EXPIRY, DaemonEvents
from shardkit.world.guilds import ACTIVE_CHARACTER, GuildChatEvents, GuildPort
from shardkit.world.schemas import (
    ZONE_TICK_BUCKETS_S,
    CharacterName,
    Rename,
    TicketLogin,
    Welcome,
    ZoneEntry,
    ZoneLoad,
    ZonePopulation,
    ZoneReady,
    ZoneTickStats,
)
from shardkit.zone.schemas import ZONE_SECRET_ENV

log = logging.getLogger("shardkit.world")

ZONE_READY_WAIT_S = 20.0


class PlayerPort:
    """What a player's client may do on the world port, after ``ticket_login``."""

    def __init__(self, world: WorldServer) -> None:
        self.world = world

    @rpc("ticket_login", TicketLogin, public=True)
    def ticket_login(self, conn: RpcConnection, p: TicketLogin) -> Welcome:
        """Log in with the single-use ticket the master issued for this world."""
        if conn.identity is not None:
            raise RpcError("already_authenticated", "this connection is already logged in")
        ticket = self.world.redeemer.redeem(p.ticket, self.world.world.name)
        conn.identity = Identity("player", ticket.account_name, ticket.account_id)
        conn.state[TICKET_EXPIRY] = ticket.expires_at  # lets a master kick tell old from new
        self.world.player_joined(conn, ticket.account_id)
        return Welcome(self.world.world.name, self.world.spec.number, ticket.account_id, ticket.account_name)

    @rpc("characters")
    async def characters(self, conn: RpcConnection) -> list[CharacterSummary]:
        """This account's characters in this world."""
        result = await self.world.daemon.call("list_characters", self.world.account(conn))
        return msgspec.convert(result, list[CharacterSummary])

    @rpc("create_character", CharacterName)
    async def create_character(self, conn: RpcConnection, p: CharacterName) -> CharacterSummary:
        """Create a character; it starts in this world's first zone."""
        problem = character_name_problem(p.name)
        if problem:
            raise RpcError("bad_name", problem)
        zone = self.world.spec.zones[0]
        result = await self.world.daemon.call(
            "create_character", self.world.account(conn), p.name, zone,
            *self.world.content.zone(zone).spawn,
        )
        return msgspec.convert(result, CharacterSummary)

    @rpc("delete_character", CharacterName)
    async def delete_character(self, conn: RpcConnection, p: CharacterName) -> Any:
        """Delete one of this account's characters."""
        return await self.world.daemon.call("delete_character", self.world.account(conn), p.name)

    @rpc("rename_character", Rename)
    async def rename_character(self, conn: RpcConnection, p: Rename) -> CharacterSummary:
        """Rename one of this account's characters; not while it is in play."""
        problem = character_name_problem(p.new_name)
        if problem:
            raise RpcError("bad_name", problem)
        result = await self.world.daemon.call("rename_character", self.world.account(conn), p.name, p.new_name)
        return msgspec.convert(result, CharacterSummary)

    @rpc("enter_game", CharacterName)
    async def enter_game(self, conn: RpcConnection, p: CharacterName) -> ZoneEntry:
        """Put a character in play: the zone's address and a single-use zone ticket."""
        return await self.world.enter_game(conn, p.name)


class ZonePort:
    """What this WorldServer's own zone processes may ask of it (role ``zone``)."""

    def __init__(self, world: WorldServer) -> None:
        self.world = world

    @rpc("zone_ready", ZoneReady, roles=("zone",))
    def zone_ready(self, conn: RpcConnection, p: ZoneReady) -> dict[str, Any]:
        """A zone process is up and takes players on ``port``."""
        self.world.zone_came_up(conn, p)
        return {"ok": True}

    @rpc("zone_population", ZonePopulation, roles=("zone",))
    def zone_population(self, conn: RpcConnection, p: ZonePopulation) -> None:
        """A zone's player count (a notification)."""
        self.world.zone_players[p.zone] = max(0, p.players)

    @rpc("zone_tick_stats", ZoneTickStats, roles=("zone",))
    def zone_tick_stats(self, conn: RpcConnection, p: ZoneTickStats) -> None:
        """A zone's tick-time histogram since it started (a notification, every few seconds)."""
        self.world.zone_tick_stats_came(conn, p)

    @rpc("load_character", ZoneLoad, roles=("zone",))
    async def load_character(self, conn: RpcConnection, p: ZoneLoad) -> CharacterState:
        """Load a character for a zone that admitted it."""
        self.world.check_entry(conn, p.account_id)
        result = await self.world.daemon.call("load_character", p.account_id, p.name)
        return msgspec.convert(result, CharacterState)

    @rpc("save_character", SaveCharacter, roles=("zone",))
    async def save_character(self, conn: RpcConnection, p: SaveCharacter) -> SaveResult:
        """Save a character state; answered after the character server committed it."""
        result = await self.world.daemon.call("save_character", p.state, p.final)
        return msgspec.convert(result, SaveResult)


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
        self.redeemer = TicketRedeemer(settings.secrets.key("ticket_key"), kind="world")
        zone_secret = os.urandom(32)
        self.zone_secret = zone_secret
        self.zone_link_key = derive_key(zone_secret, "zone-link")
        self.zone_ticket_key = derive_key(zone_secret, "zone-ticket")
        self.zones: dict[str, tuple[RpcConnection, int]] = {}
        self.zone_up: dict[str, asyncio.Event] = {z: asyncio.Event() for z in self.spec.zones}
        self.zone_players: dict[str, int] = {}
        self.zone_ticks: dict[str, HistogramSnapshot] = {}  # tick times each zone reported
        self.players: dict[int, RpcConnection] = {}
        # account -> (zone, session) of its latest enter_game here: the one entry that may load
        self.playing: dict[int, tuple[str, RpcConnection]] = {}
        self.entering = KeyedTurns()  # one enter_game per account at a time
        self.children: dict[str, Child] = {}
        self.port: RpcServer | None = None
        self.daemon: ServiceLink
        self._ready_announced = False
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
                           lambda: {me: len(self.zones)}, labels)
        metrics.live_gauge("shardkit_world_zone_players", "Players in each zone (the zone's count).",
                           lambda: {(*me, z): n for z, n in self.zone_players.items()}, zone_labels)
        metrics.live_gauge("shardkit_world_zone_starts",
                           "Times each zone process was started (restarts too).",
                           lambda: {(*me, z): c.starts for z, c in self.children.items()},
                           zone_labels)
        metrics.live_histogram("shardkit_world_zone_tick_seconds",
                               "Each zone's tick times since the zone started (the zone reports).",
                               lambda: {(*me, z): h for z, h in self.zone_ticks.items()},
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

    @staticmethod
    def account(conn: RpcConnection) -> int:
        assert conn.identity is not None and conn.identity.account_id is not None
        return conn.identity.account_id

    # ------------------------------------------------------------- players
    def player_joined(self, conn: RpcConnection, account_id: int) -> None:
        old = self.players.get(account_id)
        if old is not None and old is not conn:
            old.notify("kicked", "logged in from elsewhere")
            old.close("replaced by a newer login")
        self.players[account_id] = conn
        conn.on_close(lambda c: self._player_left(account_id, c))
        self._report_population()

    def _player_left(self, account_id: int, conn: RpcConnection) -> None:
        if self.players.get(account_id) is conn:
            del self.players[account_id]
            self.playing.pop(account_id, None)  # its unused zone tickets let nobody in now
        self._report_population()

    def _report_population(self) -> None:
        self.daemon.notify("population", self.spec.number, len(self.players))

    async def enter_game(self, conn: RpcConnection, name: str) -> ZoneEntry:
        """A zone ticket for one of the account's characters; the account's latest entry wins.

        One live character per account on this WorldServer: an account's enter_game calls take
        turns; each first has every other zone here save and drop a character of the account
        it holds, and from then on only the zone of the latest enter_game, for the session that
        asked, may load a character of the account (``check_entry``). Within one zone the zone
        itself replaces an older entry of the account.
        """
        account_id = self.account(conn)
        async with self.entering.turn(account_id):
            return await self._enter_game(conn, account_id, name)

    async def _enter_game(self, conn: RpcConnection, account_id: int, name: str) -> ZoneEntry:
        summaries = msgspec.convert(
            await self.daemon.call("list_characters", account_id), list[CharacterSummary]
        )
        character = next((c for c in summaries if c.name.casefold() == name.casefold()), None)
        if character is None:
            raise RpcError("no_such_character", f"no character '{name}'")
        zone = character.zone if character.zone in self.zone_up else self.spec.zones[0]
        try:
            await asyncio.wait_for(self.zone_up[zone].wait(), ZONE_READY_WAIT_S)
        except TimeoutError:
            raise RpcError("zone_down", f"zone '{zone}' is not up; try again shortly") from None
        await self._take_out_of_play(account_id, but_in=zone)
        if self.players.get(account_id) is not conn or zone not in self.zones:
            raise RpcError("closed", "this session ended while entering the game")
        self.playing[account_id] = (zone, conn)
        _, port = self.zones[zone]
        ticket = issue_ticket(
            self.zone_ticket_key, kind="zone", account_id=account_id,
            account_name=conn.identity.name if conn.identity else "", destination=zone,
            character=character.name, character_id=character.id,
        )
        conn.state["zone"] = zone
        conn.state[ACTIVE_CHARACTER], conn.state["character"] = character.id, character.name
        return ZoneEntry(zone, self.settings.server.cluster.public_address, port, ticket)

    async def _take_out_of_play(self, account_id: int, *, but_in: str) -> None:
        """Have every zone here but ``but_in`` save and drop a character of the account it holds.

        Returns once each has answered (a zone without the account answers at once); a zone
        that is down holds nobody, one that does not answer in time has no say any more.
        """
        links = [(zone, link) for zone, (link, _) in list(self.zones.items()) if zone != but_in]
        answers = await asyncio.gather(
            *(link.call("kick_account", account_id, "entered the game elsewhere")
              for _, link in links),
            return_exceptions=True)
        for (zone, _), answer in zip(links, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("zone %s did not confirm taking account %s out of play: %s",
                            zone, account_id, getattr(answer, "code", type(answer).__name__))

    def check_entry(self, zone_link: RpcConnection, account_id: int) -> None:
        """Refuse a zone's load for an account whose latest entry here is not for that zone.

        So a zone ticket from an earlier enter_game (another zone), or from a session that has
        since ended or been kicked, cannot put a second character of the account in play.
        """
        zone = zone_link.identity.name if zone_link.identity else ""
        entry = self.playing.get(account_id)
        if entry is None or entry[0] != zone or self.players.get(account_id) is not entry[1]:
            raise RpcError("already_playing",
                           "this account entered the game elsewhere since; enter the game again")

    # --------------------------------------------------------------- zones
    def zone_came_up(self, conn: RpcConnection, p: ZoneReady) -> None:
        if p.zone not in self.zone_up:
            raise RpcError("no_such_zone", f"zone '{p.zone}' is not part of cluster {self.spec.number}")
        self.zones[p.zone] = (conn, p.port)
        self.zone_up[p.zone].set()
        log.info("zone %s ready on port %s", quote(p.zone), p.port)
        conn.on_close(lambda c: self._zone_went_down(p.zone, c))
        if not self._ready_announced and all(e.is_set() for e in self.zone_up.values()):
            self._ready_announced = True
            announce(f"world {self.label} ready: {len(self.zones)} zones up")

    def zone_tick_stats_came(self, conn: RpcConnection, p: ZoneTickStats) -> None:
        zone = conn.identity.name if conn.identity else ""
        if p.zone != zone or self.zones.get(zone, (None,))[0] is not conn:
            raise RpcError("forbidden", "a zone reports only its own tick times, once ready")
        try:
            self.zone_ticks[zone] = HistogramSnapshot(ZONE_TICK_BUCKETS_S, p.buckets, p.seconds)
        except ValueError as exc:
            raise RpcError("bad_params", f"`buckets`: {exc}") from None

    def _zone_went_down(self, zone: str, conn: RpcConnection) -> None:
        if self.zones.get(zone, (None,))[0] is not conn:
            return
        del self.zones[zone]
        self.zone_up[zone].clear()
        self.zone_players.pop(zone, None)
        self.zone_ticks.pop(zone, None)
        log.warning("zone %s went down; its supervisor restarts it", zone)
        for player in self.players.values():
            if player.state.get("zone") == zone:
                player.notify("zone_lost", zone)

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

    # ------------------------------------------------------------- console
    def console_commands(self) -> CommandSet:
        commands = CommandSet()

        @commands.command("status", "this world server's zones and players")
        async def status(args: list[str]) -> str:
            lines = [f"world server {self.label} (pid {os.getpid()}): {len(self.players)} players"]
            for zone in self.spec.zones:
                up = "up" if self.zone_up[zone].is_set() else "down"
                child = self.children.get(zone)
                lines.append(f"  zone {zone}: {up}, {self.zone_players.get(zone, 0)} players,"
                             f" pid {child.pid if child else '-'}, started {child.starts if child else 0}x")
            return "\n".join(lines)

        @commands.command("players", "who is on this world server")
        async def players(args: list[str]) -> str:
            rows = [f"{c.identity.name:<20} {c.peer_ip} {c.state.get('zone', '-')}"
                    for c in self.players.values() if c.identity]
            return "\n".join(rows) or "nobody is here"

        @commands.command("kick", "disconnect a player: kick <account name>")
        async def kick(args: list[str]) -> str:
            for conn in list(self.players.values()):
                if conn.identity and args and conn.identity.name.casefold() == args[0].casefold():
                    conn.notify("kicked", "kicked by an administrator")
                    conn.close("kicked")
                    return f"kicked {args[0]}"
            return "usage: kick <account name> (must be online)"

        return commands

    # ----------------------------------------------------------------- run
    async def _on_daemon_up(self, conn: RpcConnection) -> None:
        public = self.settings.server.cluster.public_address
        assert self.port is not None
        await conn.call("register_cluster", *params_of(RegisterCluster(
            self.spec.number, public, self.port.port, self.content.version)))
        conn.notify("population", self.spec.number, len(self.players))

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
        router = Router.for_services(
            PlayerPort(self), GuildPort(self), ZonePort(self), ServiceAuth({"zone": self.zone_link_key}, self.label)
        )
        self.port = await serve(bind, _offset(world.world_port, self.spec.number), router)
        announce(f"world {self.label} listening on {bind}:{self.port.port}")
        ssh_cfg = world.ssh
        policy = AccessPolicy(ssh_cfg.username, settings.secrets.world_console_password, ssh_cfg.allowed_ips)
        console = await start_ssh_console(
            ssh_cfg.host, ssh_cfg.port or _offset(world.ssh_port, self.spec.number), policy=policy,
            commands=self.console_commands(), host_key_path=settings.data_dir / "ssh_host_key",
            banner=f"shardkit world server {self.label}",
        )
        announce(f"world {self.label} console (ssh) listening on {ssh_cfg.host}:{console.port}"
                 f" allowing {', '.join(ssh_cfg.allowed_ips)}")
        metrics = await self.metrics.serve(settings.server.cluster.metrics_host,
                                           _offset(world.metrics_port, self.spec.number),
                                           f"world {self.label}")
        self.daemon = ServiceLink(
            self.daemon_host, self.daemon_port, role="world", name=self.label,
            secret=settings.secrets.key("daemon_link"), peer_role="daemon", on_up=self._on_daemon_up,
            router=Router.for_services(GuildChatEvents(self), DaemonEvents(self)),
        )
        self.daemon.start()
        self._start_zones()
        await stop.wait()
        log.info("world server %s stopping", self.label)
        await asyncio.gather(*(child.stop() for child in self.children.values()))
        console.close()
        await metrics.close()
        await self.daemon.stop()
        await self.port.close()
        return 0


def _offset(base: int, cluster: int) -> int:
    """Cluster N's port is base + N; a base of 0 means any free port."""
    return base + cluster if base else 0
