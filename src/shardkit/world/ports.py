"""The world port's own methods: ticket login, entering the game, and its zones' reports."""

from __future__ import annotations

from shardkit.wire.peers import Ok
from shardkit.wire.rpc import Identity, RpcConnection, RpcError, rpc
from shardkit.world.entry import GameEntry
from shardkit.world.players import Players
from shardkit.world.schemas import (
    CharacterName,
    TicketLogin,
    Welcome,
    ZoneEntry,
    ZonePopulation,
    ZoneReady,
    ZoneTickStats,
)
from shardkit.world.session import session_of
from shardkit.world.tickets import WorldTickets
from shardkit.world.zones import Zones


class PlayerPort:
    """What a player's client may do on the world port, after ``ticket_login``."""

    def __init__(self, tickets: WorldTickets, players: Players, entry: GameEntry, *,
                 world: str, cluster: int) -> None:
        self.tickets = tickets
        self.players = players
        self.entry = entry
        self.world = world
        self.cluster = cluster

    @rpc("ticket_login", TicketLogin, public=True)
    async def ticket_login(self, conn: RpcConnection, p: TicketLogin) -> Welcome:
        """Log in with the single-use ticket the master issued for this WorldServer."""
        if conn.identity is not None or "ticket_login" in conn.state:
            raise RpcError("already_authenticated", "this connection is already logged in")
        conn.state["ticket_login"] = True  # one login at a time, even while the daemon answers
        try:
            ticket = await self.tickets.redeem(p.ticket)
        finally:
            conn.state.pop("ticket_login", None)
        if conn.closed.is_set():
            raise RpcError("closed", "the connection closed while logging in")
        conn.identity = Identity("player", ticket.account_name, ticket.account_id)
        session_of(conn).ticket_expires_at = ticket.expires_at  # tells a kick old from new
        self.players.joined(conn, ticket.account_id)
        return Welcome(self.world, self.cluster, ticket.account_id, ticket.account_name)

    @rpc("enter_game", CharacterName)
    async def enter_game(self, conn: RpcConnection, p: CharacterName) -> ZoneEntry:
        """Put a character in play: the zone's address and a single-use zone ticket."""
        return await self.entry.enter_game(conn, p.name)


class ZonePort:
    """What this WorldServer's own zone processes report to it (role ``zone``)."""

    def __init__(self, zones: Zones, *, cluster: int) -> None:
        self.zones = zones
        self.cluster = cluster

    @rpc("zone_ready", ZoneReady, roles=("zone",))
    def zone_ready(self, conn: RpcConnection, p: ZoneReady) -> Ok:
        """A zone process is up and takes players on ``port``."""
        self.zones.came_up(conn, p, self.cluster)
        return Ok()

    @rpc("zone_population", ZonePopulation, roles=("zone",))
    def zone_population(self, conn: RpcConnection, p: ZonePopulation) -> None:
        """A zone's player count (a notification)."""
        self.zones.set_population(p.zone, p.players)

    @rpc("zone_tick_stats", ZoneTickStats, roles=("zone",))
    def zone_tick_stats(self, conn: RpcConnection, p: ZoneTickStats) -> None:
        """A zone's tick-time histogram since it started (a notification, every few seconds)."""
        self.zones.tick_stats(conn, p)
