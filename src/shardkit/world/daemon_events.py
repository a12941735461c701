"""What the daemon sends a WorldServer about its players: kicks, passed on to the zones."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shardkit.master.schemas import KickAccount
from shardkit.runtime.peerlog import quote
from shardkit.wire.rpc import RpcConnection, rpc

if TYPE_CHECKING:
    from shardkit.world.server import WorldServer

log = logging.getLogger("shardkit.world")

TICKET_EXPIRY = "ticket_expires_at"  # conn.state key: expiry of the world ticket the player used


class DaemonEvents:
    """Notifications from the daemon, served on the WorldServer's side of its daemon link."""

    def __init__(self, world: WorldServer) -> None:
        self.world = world

    @rpc("kick_account", KickAccount, roles=("daemon",))
    def kick_account(self, conn: RpcConnection, p: KickAccount) -> None:
        """Drop the account's connection here and have our zones save and drop its character."""
        player = self.world.players.get(p.account_id)
        if player is not None and p.tickets_before and \
                player.state.get(TICKET_EXPIRY, 0.0) > p.tickets_before:
            log.info("kick of account %s skipped: it came back with a newer ticket", p.account_id)
            return  # a newer session of the account, which the kick does not mean
        if player is not None:
            log.info("kicking %s: %s", quote(player.identity.name if player.identity else "?"),
                     quote(p.reason))
            player.notify("kicked", p.reason)
            player.close(f"kicked: {p.reason}")
        for zone_conn, _port in list(self.world.zones.values()):
            zone_conn.notify("kick_account", p.account_id, p.reason)
