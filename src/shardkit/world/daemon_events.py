"""What the daemon sends a WorldServer about its players: kicks, passed on to the zones."""

from __future__ import annotations

import logging

from shardkit.master.notifications import KickAccount
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcConnection, rpc
from shardkit.world.notifications import Kicked
from shardkit.world.players import Players
from shardkit.world.session import sessions
from shardkit.world.zones import Zones

log = logging.getLogger("shardkit.world")


class DaemonEvents:
    """Notifications from the daemon, served on the WorldServer's side of its daemon link."""

    def __init__(self, players: Players, zones: Zones) -> None:
        self.players = players
        self.zones = zones

    @rpc("kick_account", KickAccount, roles=("daemon",))
    def kick_account(self, conn: RpcConnection, p: KickAccount) -> None:
        """Drop the account's connection here and have our zones save and drop its character."""
        player = self.players.get(p.account_id)
        session = sessions.get(player) if player is not None else None
        if player is not None and p.tickets_before and session is not None and \
                session.ticket_expires_at > p.tickets_before:
            log.info("kick of account %s skipped: it came back with a newer ticket", p.account_id)
            return  # a newer session of the account, which the kick does not mean
        if player is not None:
            log.info("kicking %s: %s", quote(player.identity.name if player.identity else "?"),
                     quote(p.reason))
            notify(player, Kicked(p.reason))
            player.close(f"kicked: {p.reason}")
        self.zones.kick_everywhere(p.account_id, p.reason)
