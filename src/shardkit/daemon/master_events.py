"""What the master sends a daemon over its link: kicks to pass on to the world servers."""

from __future__ import annotations

import logging

from shardkit.daemon.clusters import ClusterRegistry
from shardkit.master.notifications import KickAccount
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcConnection, rpc

log = logging.getLogger("shardkit.daemon")


class MasterEvents:
    """Notifications from the master, served on the daemon's side of its master link."""

    def __init__(self, clusters: ClusterRegistry) -> None:
        self.clusters = clusters

    @rpc("kick_account", KickAccount, roles=("master",))
    def kick_account(self, conn: RpcConnection, p: KickAccount) -> None:
        """Put an account out of play: every WorldServer of this world drops it."""
        world_servers = self.clusters.connections()
        log.info("master kicks account %s (%s); telling %d world servers",
                 p.account_id, quote(p.reason), len(world_servers))
        for world_conn in world_servers:
            notify(world_conn, p)
