"""What the master sends a daemon over the daemon's link to it: kicks to pass on to the world servers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shardkit.master.schemas import KickAccount
from shardkit.runtime.peerlog import quote
from shardkit.wire.rpc import RpcConnection, params_of, rpc

if TYPE_CHECKING:
    from shardkit.daemon.server import WorldDaemon

log = logging.getLogger("shardkit.daemon")


class MasterEvents:
    """Notifications from the master, served on the daemon's side of its master link."""

    def __init__(self, daemon: WorldDaemon) -> None:
        self.daemon = daemon

    @rpc("kick_account", KickAccount, roles=("master",))
    def kick_account(self, conn: RpcConnection, p: KickAccount) -> None:
        """Put an account out of play: every WorldServer of this world drops it."""
        clusters = list(self.daemon.clusters.values())
        log.info("master kicks account %s (%s); telling %d world servers",
                 p.account_id, quote(p.reason), len(clusters))
        for world_conn, _registration in clusters:
            world_conn.notify("kick_account", *params_of(p))
