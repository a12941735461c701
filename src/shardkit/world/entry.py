"""Entering the game on a WorldServer: the character's zone and a single-use ticket for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from shardkit.characters.calls import CharacterCalls
from shardkit.characters.schemas import AccountRef, CharacterSummary
from shardkit.wire.peers import Peer
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.wire.tickets import issue_ticket
from shardkit.world.players import Players
from shardkit.world.schemas import ZoneEntry
from shardkit.world.session import account_of, session_of
from shardkit.world.zones import Zones

ZONE_READY_WAIT_S = 20.0

Redirect = Callable[[RpcConnection, int, CharacterSummary], Awaitable[ZoneEntry | None]]
"""Where a character whose zone this WorldServer does not run enters instead, if anywhere."""


class GameEntry:
    """Puts a player's character in play in one of this WorldServer's zones.

    One live character per account on this WorldServer: an account's entries take turns;
    each first has every other zone here save and drop a character of the account it holds,
    and from then on only the zone of the latest entry, for the session that asked, may load
    a character of the account (``Players.check_entry``). Within one zone the zone itself
    replaces an older entry of the account.
    """

    def __init__(self, daemon: Peer, players: Players, zones: Zones, *, ticket_key: bytes,
                 public_address: str, redirect: Redirect | None = None) -> None:
        self.redirect = redirect
        self.daemon = daemon
        self.players = players
        self.zones = zones
        self.ticket_key = ticket_key
        self.public_address = public_address

    async def enter_game(self, conn: RpcConnection, name: str) -> ZoneEntry:
        """A zone ticket for one of the account's characters; the account's latest entry wins."""
        account_id = account_of(conn)
        async with self.players.entering.turn(account_id):
            return await self._enter_game(conn, account_id, name)

    async def enter_known(self, conn: RpcConnection, character: CharacterSummary) -> ZoneEntry:
        """``enter_game`` for a character this WorldServer was told about (an admitted
        transfer: its id, name and zone), without looking it up again."""
        account_id = account_of(conn)
        async with self.players.entering.turn(account_id):
            return await self._put_in_play(conn, account_id, character)

    async def _enter_game(self, conn: RpcConnection, account_id: int, name: str) -> ZoneEntry:
        summaries = await CharacterCalls.list_characters.send(self.daemon, AccountRef(account_id))
        character = next((c for c in summaries if c.name.casefold() == name.casefold()), None)
        if character is None:
            raise RpcError("no_such_character", f"no character '{name}'")
        return await self._put_in_play(conn, account_id, character)

    async def _put_in_play(self, conn: RpcConnection, account_id: int,
                           character: CharacterSummary) -> ZoneEntry:
        if character.zone not in self.zones and self.redirect is not None:
            elsewhere = await self.redirect(conn, account_id, character)
            if elsewhere is not None:  # another WorldServer runs its zone: go there
                return elsewhere
        zone = character.zone if character.zone in self.zones else self.zones.names[0]
        await self.zones.wait_up(zone, ZONE_READY_WAIT_S)
        await self.zones.take_out_of_play(account_id, but_in=zone)
        port = self.zones.port_of(zone)
        if port is None:
            raise RpcError("closed", "this session ended while entering the game")
        self.players.start_playing(account_id, zone, conn)
        ticket = issue_ticket(
            self.ticket_key, kind="zone", account_id=account_id,
            account_name=conn.identity.name if conn.identity else "", destination=zone,
            character=character.name, character_id=character.id,
        )
        session = session_of(conn)
        session.zone, session.character_id, session.character = zone, character.id, character.name
        return ZoneEntry(zone, self.public_address, port, ticket)
