"""The daemon's hop of the GM calls (gm/calls.py): to the WorldServer of a call's cluster.

``gm_who`` and ``gm_broadcast`` are about the whole world, so the daemon asks each of its
WorldServers itself (or the one of ``cluster``) and sums their answers up; the other calls
are about one character in play and go to the WorldServer the caller found it on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shardkit.daemon.clusters import ClusterRegistry
from shardkit.gm.calls import GMWorldCalls
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import Peer
from shardkit.wire.relay import Route, middle_relay
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.world.gm_schemas import OnlineCharacter, Reached, WhoQuery, WorldNotice

log = logging.getLogger("shardkit.daemon")

CHARACTERS = ("characters",)

GMWorldForwarding = middle_relay(
    GMWorldCalls, "GMWorldForwarding", module=__name__, roles=CHARACTERS,
    leave_out=(GMWorldCalls.gm_who, GMWorldCalls.gm_broadcast),
    doc="GM calls about one character in play, from the character server's link (7001): to"
        " the WorldServer of the call's cluster.",
)


def cluster_route(clusters: ClusterRegistry) -> Route:
    """The next hop of a GM call: the registered WorldServer of its ``cluster``."""

    def route(params: Any) -> Peer:
        registered = clusters.clusters.get(params.cluster)
        if registered is None:
            raise RpcError("no_such_cluster",
                           f"WorldServer {clusters.world}/{params.cluster} is not up")
        return registered[0]

    return route


class GMFanOut:
    """``gm_who`` and ``gm_broadcast``: asked of every WorldServer (or one) and summed up."""

    def __init__(self, clusters: ClusterRegistry) -> None:
        self.clusters = clusters

    def _world_servers(self, cluster: int) -> list[tuple[int, RpcConnection]]:
        return [(number, conn) for number, (conn, _) in sorted(self.clusters.clusters.items())
                if cluster < 0 or number == cluster]

    async def _ask_each(self, cluster: int, ask: Any) -> list[Any]:
        targets = self._world_servers(cluster)
        answers = await asyncio.gather(*(ask(conn) for _, conn in targets),
                                       return_exceptions=True)
        kept = []
        for (number, _), answer in zip(targets, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("WorldServer %s/%s did not answer a GM call: %s", self.clusters.world,
                            number, quote(getattr(answer, "code", type(answer).__name__)))
                continue
            kept.append(answer)
        return kept

    @GMWorldCalls.gm_who.serve(roles=CHARACTERS)
    async def gm_who(self, conn: RpcConnection, p: WhoQuery) -> list[OnlineCharacter]:
        """Who plays on this world's WorldServers (each WorldServer's list, in cluster order)."""
        answers = await self._ask_each(p.cluster, lambda ws: GMWorldCalls.gm_who.send(ws, p))
        rows = [row for answer in answers for row in answer]
        return rows[: max(1, p.limit)]

    @GMWorldCalls.gm_broadcast.serve(roles=CHARACTERS)
    async def gm_broadcast(self, conn: RpcConnection, p: WorldNotice) -> Reached:
        """Have every WorldServer of this world (or one) send its players the notice."""
        answers = await self._ask_each(p.cluster,
                                       lambda ws: GMWorldCalls.gm_broadcast.send(ws, p))
        return Reached(sum(answer.players for answer in answers))
