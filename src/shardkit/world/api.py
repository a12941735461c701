"""A WorldServer's published API: what its zones and players call (relayed: characters/calls.py)."""

from __future__ import annotations

from shardkit.characters.calls import CharacterCalls
from shardkit.characters.schemas import CharacterState, SaveResult
from shardkit.daemon.chat_calls import ChatCalls, Delivered, WhisperDelivery
from shardkit.wire.peers import Ok, PeerApi
from shardkit.wire.rpc import params_of
from shardkit.world.schemas import (
    TransferArrival,
    Welcome,
    ZoneEntry,
    ZoneStatus,
    ZoneTickStats,
)


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

    async def chat_world(self, character_id: int, speaker: str, text: str) -> Ok:
        """A world chat line, relayed to the daemon (which counts the character's chat)."""
        return await ChatCalls.chat_world.enter(self.peer, character_id, speaker, text)

    async def chat_whisper(self, character_id: int, speaker: str, to: str, text: str) -> Ok:
        """A whisper to a character anywhere in the world; ``offline`` if it plays nowhere."""
        return await ChatCalls.chat_whisper.enter(self.peer, character_id, speaker, to, text)


class WorldDaemonApi(PeerApi):
    """What a daemon calls on one of its WorldServers (over the WorldServer's daemon link)."""

    async def deliver_whisper(self, delivery: WhisperDelivery) -> Delivered:
        """Hand a whisper to the character if it plays on this WorldServer."""
        return await self.peer.call_as(Delivered, "deliver_whisper", *params_of(delivery))

    async def zone_status(self) -> list[ZoneStatus]:
        """Each zone of this WorldServer: up or down, port, players, starts, uptime."""
        return await self.peer.call_as(list[ZoneStatus], "zone_status")


class WorldPlayerApi(PeerApi):
    """What a player's client calls on a world port, besides the relayed calls."""

    async def ticket_login(self, ticket: bytes) -> Welcome:
        return await self.peer.call_as(Welcome, "ticket_login", ticket)

    async def enter_game(self, character: str) -> ZoneEntry:
        return await self.peer.call_as(ZoneEntry, "enter_game", character)

    async def transfer_login(self, ticket: bytes) -> TransferArrival:
        """Arrive through a portal: the ticket another WorldServer's zone sent us on with."""
        return await self.peer.call_as(TransferArrival, "transfer_login", ticket)
