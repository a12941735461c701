"""A WorldServer's part of zone transfers: relaying its zones' transfers, admitting arrivals.

- ``TransferRelay``: a zone's ``transfer_character`` goes to the daemon as it came.
- ``TransferAdmission`` (daemon link): the daemon asks us to admit a character saved in one
  of our zones; we answer with a single-use ``transfer`` ticket bound to this WorldServer.
- ``TransferLogin`` (world port): the player redeems that ticket here and is put in play in
  the character's zone in the same call (the world login and ``enter_game`` in one).
- ``Redirect``: a player entering the game here with a character whose zone another
  WorldServer of the world runs gets that WorldServer's ticket instead (``ZoneEntry.transfer``),
  so a character a crash left saved at a portal's target enters there at its next login.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shardkit.characters.schemas import CharacterSummary
from shardkit.config.settings import WorldSettings
from shardkit.daemon.transfer_calls import AdmitCalls, AdmitTransfer, TransferCalls, TransferTicket
from shardkit.wire.handshake import derive_key
from shardkit.wire.peers import Peer
from shardkit.wire.relay import entry_relay
from shardkit.wire.rpc import Identity, RpcConnection, RpcError, rpc
from shardkit.wire.tickets import TicketRedeemer, issue_ticket
from shardkit.world.entry import GameEntry
from shardkit.world.players import Players
from shardkit.world.schemas import TicketLogin, TransferArrival, Welcome, ZoneEntry
from shardkit.world.session import session_of
from shardkit.world.zones import Zones

TICKET_TTL_S = 30.0
"""How long a transfer ticket may wait to be redeemed."""

ADMIT_ZONE_WAIT_S = 5.0
"""How long an admission waits for the target zone's process to be up (a restart)."""

TransferRelay = entry_relay(
    TransferCalls, "TransferRelay", module=__name__,
    doc="Zone transfers from this WorldServer's zones, relayed to the daemon as they came.",
)


class Arrivals:
    """Characters admitted here and not arrived yet: account -> (character id, zone, expiry).

    ``transfer_login`` takes the zone from here instead of asking the character server again
    (one round trip less per transfer); an entry is used once, and at most ``limit`` wait.
    """

    def __init__(self, limit: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.clock = clock
        self._waiting: dict[int, tuple[int, str, float]] = {}

    def expect(self, account_id: int, character_id: int, zone: str, expires_at: float) -> None:
        self._waiting.pop(account_id, None)
        if len(self._waiting) >= self.limit:  # the oldest admitted first
            del self._waiting[next(iter(self._waiting))]
        self._waiting[account_id] = (character_id, zone, expires_at)

    def take(self, account_id: int, character_id: int) -> str | None:
        """The zone the account's character was admitted to, if that is still to come."""
        waiting = self._waiting.pop(account_id, None)
        if waiting is None or waiting[0] != character_id or waiting[2] < self.clock():
            return None
        return waiting[1]


def transfer_key(ticket_key: bytes) -> bytes:
    """The key of transfer tickets (every WorldServer of the world shares the ticket key)."""
    return derive_key(ticket_key, "transfer-ticket")


class TransferAdmission:
    """What the daemon asks of this WorldServer when a character crosses to one of its zones."""

    def __init__(self, zones: Zones, arrivals: Arrivals, *, ticket_key: bytes, label: str,
                 host: str, port: Callable[[], int], cluster: int) -> None:
        self.zones = zones
        self.arrivals = arrivals
        self.key = transfer_key(ticket_key)
        self.label = label
        self.host = host
        self.port = port
        self.cluster = cluster

    @AdmitCalls.admit_transfer.serve()
    async def admit_transfer(self, conn: RpcConnection, p: AdmitTransfer) -> TransferTicket:
        if p.cluster != self.cluster or p.zone not in self.zones:
            raise RpcError("no_such_zone", f"WorldServer {self.label} does not run '{p.zone}'")
        await self.zones.wait_up(p.zone, ADMIT_ZONE_WAIT_S)
        ticket = issue_ticket(self.key, kind="transfer", account_id=p.account_id,
                              account_name=p.account_name, destination=self.label,
                              character=p.character, character_id=p.character_id,
                              ttl_s=TICKET_TTL_S)
        self.arrivals.expect(p.account_id, p.character_id, p.zone, time.time() + TICKET_TTL_S)
        return TransferTicket(self.host, self.port(), ticket, self.cluster)


class TransferLogin:
    """A player arriving with a transfer ticket: logged in and entered in one call."""

    def __init__(self, players: Players, entry: GameEntry, arrivals: Arrivals, *,
                 ticket_key: bytes, label: str, world: str, cluster: int) -> None:
        self.arrivals = arrivals
        self.players = players
        self.entry = entry
        self.redeemer = TicketRedeemer(transfer_key(ticket_key), kind="transfer")
        self.label = label
        self.world = world
        self.cluster = cluster

    @rpc("transfer_login", TicketLogin, public=True)
    async def transfer_login(self, conn: RpcConnection, p: TicketLogin) -> TransferArrival:
        """Arrive through a portal: log in with the ticket this WorldServer issued, and enter."""
        if conn.identity is not None:
            raise RpcError("already_authenticated", "this connection is already logged in")
        ticket = self.redeemer.redeem(p.ticket, self.label)
        conn.identity = Identity("player", ticket.account_name, ticket.account_id)
        session_of(conn).ticket_expires_at = ticket.expires_at
        self.players.joined(conn, ticket.account_id)
        zone = self.arrivals.take(ticket.account_id, ticket.character_id)
        if zone is None:  # admitted before a restart, or overtaken: look the character up
            entry = await self.entry.enter_game(conn, ticket.character)
        else:
            entry = await self.entry.enter_known(conn, CharacterSummary(
                ticket.character_id, ticket.character, zone, 0))
        return TransferArrival(
            Welcome(self.world, self.cluster, ticket.account_id, ticket.account_name), entry)


class TransferRedirect:
    """Sends a character whose zone another WorldServer runs to that WorldServer."""

    def __init__(self, daemon: Peer, world: WorldSettings, cluster: int) -> None:
        self.daemon = daemon
        self.cluster_of = {z: spec.number for spec in world.clusters for z in spec.zones
                           if spec.number != cluster}

    async def __call__(self, conn: RpcConnection, account_id: int,
                       character: CharacterSummary) -> ZoneEntry | None:
        cluster = self.cluster_of.get(character.zone)
        if cluster is None:
            return None
        name = conn.identity.name if conn.identity else ""
        try:
            ticket = await AdmitCalls.admit_transfer.send(self.daemon, AdmitTransfer(
                cluster, account_id, name, character.name, character.id, character.zone))
        except RpcError as exc:
            if exc.code != "no_such_cluster":
                raise
            raise RpcError("zone_down", f"{character.zone} is on WorldServer {cluster}, which is"
                           " not up; try again shortly") from None
        return ZoneEntry(character.zone, ticket.host, ticket.port, ticket.ticket, transfer=True)
