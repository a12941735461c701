"""What a WorldServer sends its zones about players: kicks (the character is saved, then dropped)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shardkit.master.schemas import KickAccount
from shardkit.runtime.peerlog import quote
from shardkit.wire.rpc import RpcConnection, rpc

if TYPE_CHECKING:
    from shardkit.zone.server import ZoneServer

log = logging.getLogger("shardkit.zone")


class WorldEvents:
    """Notifications from the WorldServer, served on the zone's side of its world link."""

    def __init__(self, zone: ZoneServer) -> None:
        self.zone = zone

    @rpc("kick_account", KickAccount, roles=("world",))
    async def kick_account(self, conn: RpcConnection, p: KickAccount) -> None:
        """Save the account's character, tell the player why, and close its connection."""
        async with self.zone.admissions.turn(p.account_id):  # an entry under way finishes first
            player = self.zone.by_account.get(p.account_id)
            if player is None:
                return
            log.info("kicking %s out of %s: %s", quote(player.entity.name), self.zone.name,
                     quote(p.reason))
            saved = await self.zone.remove(player, final=True)
        if not saved:
            log.error("final save of kicked %s was not acknowledged", quote(player.entity.name))
        player.conn.notify("kicked", p.reason)
        player.conn.close(f"kicked: {p.reason}")
