"""The daemon's hop of zone transfers: save at the target and move the claim, then admit there.

See ``daemon/transfer_calls.py`` for the calls and ``docs/architecture.md`` ("Zone transfers
between WorldServers") for what each side does when the other crashes.
"""

from __future__ import annotations

import asyncio
import logging

from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.gm import cluster_route
from shardkit.daemon.transfer_calls import (
    AdmitCalls,
    AdmitTransfer,
    SaveTransfer,
    SaveTransferCalls,
    TransferCalls,
    TransferCharacter,
    TransferTicket,
)
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import Peer
from shardkit.wire.relay import middle_relay
from shardkit.wire.rpc import RpcConnection, RpcError

log = logging.getLogger("shardkit.daemon")

ADMIT_WAIT_S = 10.0
"""How long the daemon waits for the target WorldServer to admit a saved character."""

AdmitForwarding = middle_relay(
    AdmitCalls, "AdmitForwarding", module=__name__, roles=("world",),
    doc="A WorldServer asks another WorldServer of the world (the params' cluster) to admit a"
        " character whose zone it runs.",
)


class Transfers:
    """``transfer_character`` from a WorldServer's zone: the daemon's own hop, not a forward.

    Order matters for crashes: the target must be registered before anything happens (else the
    character stays where it is); then one versioned save at the character server puts the
    character at the portal's target and moves its claim to the target WorldServer; only then
    is the target asked to admit it. Whatever dies after the save, the stored character is in
    the target zone, intact, and any later save of the source (based on an older version) is
    refused.
    """

    def __init__(self, characters: Peer, clusters: ClusterRegistry) -> None:
        self.characters = characters
        self.clusters = clusters
        self._route = cluster_route(clusters)

    def _source(self, conn: RpcConnection) -> int | None:
        return next((n for n, (c, _) in self.clusters.clusters.items() if c is conn), None)

    @TransferCalls.transfer_character.serve()
    async def transfer_character(self, conn: RpcConnection, p: TransferCharacter
                                 ) -> TransferTicket:
        state = p.state
        if state.world != self.clusters.world:
            raise RpcError("forbidden", "a transfer stays within its world")
        source = self._source(conn)
        if source is None or source == p.cluster:
            raise RpcError("bad_params", "a transfer goes from one registered WorldServer to"
                           " another")
        target = self._route(p)  # the target is up, or nothing happens (no_such_cluster)
        name = quote(state.name)
        log.info("transfer of %s from WorldServer %d to %d (%s): saving", name, source,
                 p.cluster, quote(state.zone))
        saved = await SaveTransferCalls.save_transfer.send(
            self.characters, SaveTransfer(state, p.cluster))
        if not saved.ok:
            raise RpcError("stale", f"the character was saved elsewhere since ({saved.reason})")
        log.info("transfer of %s saved at version %d in %s; asking WorldServer %d to admit it",
                 name, saved.version, quote(state.zone), p.cluster)
        admit = AdmitTransfer(p.cluster, state.account_id, p.account_name, state.name, state.id,
                              state.zone)
        try:
            ticket = await asyncio.wait_for(AdmitCalls.admit_transfer.send(target, admit),
                                            ADMIT_WAIT_S)
        except (RpcError, OSError, TimeoutError, ConnectionError) as exc:
            log.warning("transfer of %s: WorldServer %d did not admit it (%s); it is saved in %s"
                        " and enters there at its next login", name, p.cluster,
                        quote(str(exc) or type(exc).__name__), quote(state.zone))
            raise RpcError("transfer_pending",
                           f"saved in {state.zone}, whose WorldServer could not admit you now;"
                           " enter the game again") from None
        log.info("transfer of %s admitted by WorldServer %d", name, p.cluster)
        return ticket
