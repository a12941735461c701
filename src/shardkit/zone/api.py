"""A zone's published API: what its WorldServer calls over the zone's link, and players call."""

from __future__ import annotations

from shardkit.wire.peers import Ok, PeerApi
from shardkit.zone.schemas import Entered


class ZoneApi(PeerApi):
    """What a WorldServer calls on one of its zones."""

    async def kick_account(self, account_id: int, reason: str) -> None:
        """Have the zone save and drop the account's character (answered once it is out)."""
        await self.peer.call("kick_account", account_id, reason)

    def kick_soon(self, account_id: int, reason: str) -> None:
        """The same as a notification: the zone saves and drops the character in its own time."""
        self.peer.notify("kick_account", account_id, reason)


class ZonePlayerApi(PeerApi):
    """What a player's client calls on a zone port."""

    async def zone_login(self, ticket: bytes) -> Entered:
        return await self.peer.call_as(Entered, "zone_login", ticket)

    def input(self, dx: float, dy: float) -> None:
        self.peer.notify("input", dx, dy)

    def say(self, text: str) -> None:
        self.peer.notify("say", text)

    async def logout(self) -> Ok:
        """Leave the zone; ``ok`` is whether the final save was acknowledged."""
        return await self.peer.call_as(Ok, "logout")
