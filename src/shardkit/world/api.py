"""A WorldServer's published API: what its zones and players call (relayed: characters/calls.py)."""

from __future__ import annotations

from shardkit.characters.calls import CharacterCalls
from shardkit.characters.schemas import CharacterState, SaveResult
from shardkit.wire.peers import Ok, PeerApi
from shardkit.wire.rpc import params_of
from shardkit.world.schemas import Welcome, ZoneEntry, ZoneTickStats


class WorldZoneApi(PeerApi):
    """What a zone calls on its WorldServer (role ``zone``)."""

    async def zone_ready(self, zone: str, port: int) -> Ok:
        return await self.peer.call_as(Ok, "zone_ready", zone, port)

    def zone_population(self, zone: str, players: int) -> None:
        """The zone's player count (a notification)."""
        self.peer.notify("zone_population", zone, players)

    def zone_tick_stats(self, stats: ZoneTickStats) -> None:
        """The zone's tick-time histogram so far (a notification)."""
        self.peer.notify("zone_tick_stats", *params_of(stats))

    async def load_character(self, account_id: int, name: str) -> CharacterState:
        return await CharacterCalls.load_character.enter(self.peer, account_id, name)

    async def save_character(self, state: CharacterState, final: bool) -> SaveResult:
        return await CharacterCalls.save_character.enter(self.peer, state, final)


class WorldPlayerApi(PeerApi):
    """What a player's client calls on a world port, besides the relayed calls."""

    async def ticket_login(self, ticket: bytes) -> Welcome:
        return await self.peer.call_as(Welcome, "ticket_login", ticket)

    async def enter_game(self, character: str) -> ZoneEntry:
        return await self.peer.call_as(ZoneEntry, "enter_game", character)
