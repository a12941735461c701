"""A zone's published API: what its WorldServer calls over the zone's link, and players call."""

from __future__ import annotations

from shardkit.wire.peers import Ok, PeerApi
from shardkit.wire.rpc import params_of
from shardkit.zone.admin_schemas import (
    GrantCharacter,
    LiveCharacter,
    SpawnedNpc,
    ZonePlayer,
    ZoneStatus,
)
from shardkit.zone.schemas import Entered


class ZoneApi(PeerApi):
    """What a WorldServer calls on one of its zones (its console, and GMs through it)."""

    async def kick_account(self, account_id: int, reason: str) -> None:
        """Have the zone save and drop the account's character (answered once it is out)."""
        await self.peer.call("kick_account", account_id, reason)

    def kick_soon(self, account_id: int, reason: str) -> None:
        """The same as a notification: the zone saves and drops the character in its own time."""
        self.peer.notify("kick_account", account_id, reason)

    async def status(self) -> ZoneStatus:
        """Population, NPCs and the recent tick times (p50, p99)."""
        return await self.peer.call_as(ZoneStatus, "status")

    async def players(self) -> list[ZonePlayer]:
        """Who is here: account, character id and name, position, level and health."""
        return await self.peer.call_as(list[ZonePlayer], "players")

    async def inspect(self, character: str) -> LiveCharacter:
        """One character's live state (``not_here`` if it is not in this zone)."""
        return await self.peer.call_as(LiveCharacter, "inspect", character)

    async def mute(self, character: str, until: float, reason: str) -> Ok:
        """Drop the character's chat until ``until`` (Unix time); it is told why."""
        return await self.peer.call_as(Ok, "mute", character, until, reason)

    async def unmute(self, character: str) -> Ok:
        """Let the character chat again (``ok`` false if it was not muted)."""
        return await self.peer.call_as(Ok, "unmute", character)

    async def teleport(self, character: str, x: float, y: float, zone: str = "") -> Ok:
        """Put the character at (x, y) of this zone or (``zone``) of another zone of the same
        WorldServer (``out_of_bounds`` outside it, ``other_server`` for any other zone)."""
        return await self.peer.call_as(Ok, "teleport", character, x, y, zone)

    async def grant(self, grant: GrantCharacter) -> LiveCharacter:
        """Give or take gold and items (``not_enough`` if a result would be below zero);
        answered once the change is saved."""
        return await self.peer.call_as(LiveCharacter, "grant", *params_of(grant))

    async def broadcast(self, text: str) -> Ok:
        """A notice to every player in the zone."""
        return await self.peer.call_as(Ok, "broadcast", text)

    async def spawn_npc(self, kind: str, x: float, y: float) -> SpawnedNpc:
        """An extra NPC of a content kind at (x, y)."""
        return await self.peer.call_as(SpawnedNpc, "spawn_npc", kind, x, y)


class ZonePlayerApi(PeerApi):
    """What a player's client calls on a zone port."""

    async def zone_login(self, ticket: bytes) -> Entered:
        return await self.peer.call_as(Entered, "zone_login", ticket)

    def input(self, dx: float, dy: float) -> None:
        self.peer.notify("input", dx, dy)

    def claim_position(self, x: float, y: float) -> None:
        self.peer.notify("claim_position", x, y)

    def attack(self, target: int) -> None:
        self.peer.notify("attack", target)

    def say(self, text: str) -> None:
        self.peer.notify("say", text)

    async def chat(self, channel: str, text: str) -> Ok:
        return await self.peer.call_as(Ok, "chat", channel, text)

    async def whisper(self, to: str, text: str) -> Ok:
        return await self.peer.call_as(Ok, "whisper", to, text)

    async def logout(self) -> Ok:
        """Leave the zone; ``ok`` is whether the final save was acknowledged."""
        return await self.peer.call_as(Ok, "logout")
