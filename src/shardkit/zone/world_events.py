"""What a WorldServer sends its zones about players: kicks (saved first, then dropped)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from shardkit.master.notifications import KickAccount
from shardkit.wire.rpc import RpcConnection, rpc


class WorldEvents:
    """Calls and notifications from the WorldServer, served on the zone's side of its world link."""

    def __init__(self, kick: Callable[[int, str], Awaitable[None]]) -> None:
        self.kick = kick

    @rpc("kick_account", KickAccount, roles=("world",))
    async def kick_account(self, conn: RpcConnection, p: KickAccount) -> None:
        """Save the account's character, tell the player why, and close its connection."""
        await self.kick(p.account_id, p.reason)
