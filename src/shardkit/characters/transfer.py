"""The character server's part of a zone transfer: one save that also moves the account's claim."""

from __future__ import annotations

import logging

from shardkit.characters.access import link_world
from shardkit.characters.claims import Claims
from shardkit.characters.schemas import SaveResult
from shardkit.characters.service import Saves
from shardkit.daemon.transfer_calls import SaveTransfer, SaveTransferCalls
from shardkit.runtime.peerlog import quote
from shardkit.wire.rpc import RpcConnection, RpcError

log = logging.getLogger("shardkit.characters")


class TransferSaves:
    """``save_transfer``: the state (at the portal's target) is saved like any save, based on
    its version, and once committed the claim moves to the target WorldServer in the account's
    turn, so no load or other transfer of the account runs between the commit and the move."""

    def __init__(self, batcher: Saves, claims: Claims) -> None:
        self.batcher = batcher
        self.claims = claims

    @SaveTransferCalls.save_transfer.serve()
    async def save_transfer(self, conn: RpcConnection, p: SaveTransfer) -> SaveResult:
        world = link_world(conn)
        state = p.state
        if state.world != world:
            raise RpcError("forbidden", f"the daemon of '{world}' saves only its own characters")
        async with self.claims.turns.turn(state.account_id):
            playing_in = self.claims.world_of(state.account_id)
            if playing_in is not None and playing_in != world:
                raise RpcError("already_playing", f"this account is playing in '{playing_in}'")
            result = await self.batcher.save(state)
            if result.ok:
                self.claims.move(state.account_id, world, state.name, p.cluster)
                log.info("%s/%s saved at version %d in %s, moving to WorldServer %d", world,
                         quote(state.name), result.version, quote(state.zone), p.cluster)
        return SaveResult(result.id, result.ok, result.version, result.reason)
