"""The middle layer in one process: character server, daemon, WorldServer ports on loopback pairs.

Each hop is the production service class, wired as its server wires it; only the sockets are
socketpairs (``shardkit.testing.loopback``) with the identity a handshake would have given.
The character store is a fresh SQLite database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shardkit.characters.api import CharactersApi
from shardkit.characters.audit import AuditTrail
from shardkit.characters.claims import Claims
from shardkit.characters.content_port import ContentInfo
from shardkit.characters.guilds import GuildService
from shardkit.characters.service import CharacterService
from shardkit.client.events import ClientState, ServerEvents
from shardkit.daemon.api import DaemonApi
from shardkit.daemon.characters import CharacterForwarding
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.guilds import GuildChat, GuildForwarding
from shardkit.daemon.schemas import RegisterCluster
from shardkit.daemon.server import WorldServerPort
from shardkit.daemon.tickets import TicketBook
from shardkit.gm.api import GMAuditApi
from shardkit.store.characters import CharacterStore, SaveBatcher
from shardkit.store.database import Database
from shardkit.store.guilds import GuildStore
from shardkit.store.testing import fresh_database_url
from shardkit.testing.loopback import LoopbackPair, loopback
from shardkit.wire.link import InboundLink
from shardkit.wire.rpc import SERVICE_LIMITS, Identity, Router, RpcConnection
from shardkit.wire.tickets import issue_ticket, world_server
from shardkit.world.characters import CharacterPort, checks, fillers
from shardkit.world.daemon_events import DaemonEvents
from shardkit.world.entry import GameEntry
from shardkit.world.guilds import GuildChatEvents, GuildPort
from shardkit.world.players import Players
from shardkit.world.ports import PlayerPort, ZonePort
from shardkit.world.tickets import WorldTickets
from shardkit.world.zones import Zones
from shardkit.zone.world_events import WorldEvents

TICKET_KEY = b"t" * 32
ZONE_TICKET_KEY = b"z" * 32
SPAWN = ("town", 10.0, 10.0)
CONTENT = "content-v1"


class RecordingPeer:
    """A Peer that only records notifications (the GM server's side of the audit link)."""

    def __init__(self) -> None:
        self.notified: list[tuple[str, tuple[Any, ...]]] = []

    async def call(self, method: str, *params: Any) -> Any:
        raise AssertionError(f"unexpected call {method}")

    async def call_as(self, result_type: type[Any], method: str, *params: Any) -> Any:
        raise AssertionError(f"unexpected call {method}")

    def notify(self, method: str, *params: Any) -> bool:
        self.notified.append((method, params))
        return True

    def actions(self) -> list[str]:
        return [params[1] for method, params in self.notified if method == "audit"]


@dataclass
class CharacterServerSide:
    """The character server's daemon-facing services on a fresh database."""

    router: Router
    characters: CharacterStore
    claims: Claims
    audit: RecordingPeer


@asynccontextmanager
async def character_server(tmp_path: Path, *, max_per_account: int = 8
                           ) -> AsyncIterator[CharacterServerSide]:
    url, cleanup = await fresh_database_url("sqlite", tmp_path)
    db = await Database.open(url, schema="characters")
    characters, guilds = CharacterStore(db), GuildStore(db)
    batcher = SaveBatcher(characters)
    batcher.start()
    claims, gm = Claims(), RecordingPeer()
    audit = AuditTrail(GMAuditApi(gm))
    router = Router.for_services(
        CharacterService(characters, batcher, guilds, claims, audit,
                         max_per_account=max_per_account),
        GuildService(guilds, audit), ContentInfo(CONTENT),
    )
    try:
        yield CharacterServerSide(router, characters, claims, gm)
    finally:
        await batcher.close()
        await db.close()
        await cleanup()


async def daemon_link(stack: AsyncExitStack, side: CharacterServerSide, world: str
                      ) -> LoopbackPair:
    """The character server's link to the daemon of ``world``: the daemon calls on ``client``."""
    return await stack.enter_async_context(loopback(
        side.router, identity=Identity("daemon", world), server_limits=SERVICE_LIMITS))


class ZoneSide:
    """A zone process as its WorldServer sees it: a link that reports ready and takes kicks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kicks: list[tuple[int, str]] = []
        self.link: RpcConnection

    async def kick(self, account_id: int, reason: str) -> None:
        self.kicks.append((account_id, reason))


class Player:
    """A player's connection to a WorldServer, with what the servers told it."""

    def __init__(self, conn: RpcConnection, client: _Listener) -> None:
        self.conn = conn
        self.listener = client

    @property
    def state(self) -> ClientState:
        return self.listener.state


class _Listener:
    def __init__(self) -> None:
        self.state = ClientState()
        self.leaving_zone: RpcConnection | None = None

    def changed(self) -> None:
        pass


@dataclass
class WorldSide:
    """One WorldServer's ports, linked to the daemon as ``world``/``cluster``."""

    label: str
    router: Router
    players: Players
    zones: Zones
    daemon_conn: RpcConnection  # the WorldServer's end of its daemon link
    daemon_end: RpcConnection  # the daemon's end: what it sends there reaches the WorldServer
    stack: AsyncExitStack
    zone_sides: dict[str, ZoneSide] = field(default_factory=dict)

    async def zone_up(self, name: str) -> ZoneSide:
        zone = ZoneSide(name)
        pair = await self.stack.enter_async_context(loopback(
            self.router, Router.for_services(WorldEvents(zone.kick)),
            identity=Identity("zone", name), server_limits=SERVICE_LIMITS))
        pair.client.identity = Identity("world", self.label)  # as the zone's handshake sets it
        zone.link = pair.client
        await pair.client.call("zone_ready", name, 29000)
        self.zone_sides[name] = zone
        return zone

    async def connect(self) -> RpcConnection:
        """A new connection to the world port, not logged in."""
        pair = await self.stack.enter_async_context(loopback(self.router))
        return pair.client

    async def player(self, account_id: int, name: str, world: str = "Atlantis") -> Player:
        """A player logged in with a fresh world ticket."""
        listener = _Listener()
        pair = await self.stack.enter_async_context(loopback(
            self.router, Router.for_services(ServerEvents(listener))))
        number = int(self.label.partition("/")[2])
        ticket = issue_ticket(TICKET_KEY, kind="world", account_id=account_id,
                              account_name=name, destination=world_server(world, number))
        await pair.client.call("ticket_login", ticket)
        return Player(pair.client, listener)


@dataclass
class Chain:
    """Character server <- daemon <- WorldServers, all in this process."""

    side: CharacterServerSide
    characters_link: InboundLink
    clusters: ClusterRegistry
    daemon_router: Router
    stack: AsyncExitStack
    worlds: list[WorldSide] = field(default_factory=list)

    async def world_server(self, cluster: int, zones: tuple[str, ...] = ("town", "meadow"),
                           world: str = "Atlantis") -> WorldSide:
        label = f"{world}/{cluster}"
        players = Players()
        zone_registry = Zones(list(zones), players)
        pair = await self.stack.enter_async_context(loopback(
            self.daemon_router,
            Router.for_services(GuildChatEvents(players), DaemonEvents(players, zone_registry)),
            identity=Identity("world", label), server_limits=SERVICE_LIMITS))
        daemon = pair.client
        daemon.identity = Identity("daemon", world)  # as the WorldServer's handshake sets it
        await DaemonApi(daemon).register_cluster(
            RegisterCluster(cluster, "127.0.0.1", 2006 + cluster, CONTENT))
        entry = GameEntry(daemon, players, zone_registry, ticket_key=ZONE_TICKET_KEY,
                          public_address="127.0.0.1")
        own_checks = checks(players)
        fill = fillers(SPAWN)
        router = Router.for_services(
            PlayerPort(WorldTickets(TICKET_KEY, daemon, label), players, entry, world=world,
                       cluster=cluster),
            CharacterPort(daemon, fill=fill, checks=own_checks),
            GuildPort(daemon, fill=fill, checks=own_checks),
            ZonePort(zone_registry, cluster=cluster),
        )
        side = WorldSide(label, router, players, zone_registry, daemon, pair.server, self.stack)
        self.worlds.append(side)
        return side


@asynccontextmanager
async def chain(tmp_path: Path, *, world: str = "Atlantis", chat_per_s: float = 1.0,
                chat_burst: int = 5, max_per_account: int = 8) -> AsyncIterator[Chain]:
    """A character server and the daemon of ``world``; add WorldServers with ``world_server``."""
    async with AsyncExitStack() as stack:
        side = await stack.enter_async_context(
            character_server(tmp_path, max_per_account=max_per_account))
        clusters = ClusterRegistry(world)

        async def check_content(conn: RpcConnection) -> None:
            clusters.content_known(await CharactersApi(conn).content_version())

        link = InboundLink("the character server", on_up=check_content)
        link.attach((await daemon_link(stack, side, world)).client)
        await link.connection()
        daemon_router = Router.for_services(
            WorldServerPort(clusters), TicketBook(), CharacterForwarding(link),
            GuildForwarding(link),
            GuildChat(CharactersApi(link), clusters, chat_per_s=chat_per_s,
                      chat_burst=chat_burst),
        )
        yield Chain(side, link, clusters, daemon_router, stack)

