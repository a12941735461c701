"""An imp's published API: what its daemon asks of it over the imp's link."""

from __future__ import annotations

import msgspec

from shardkit.imp.schemas import Started, StartWorld, StopWorld
from shardkit.wire.peers import PeerApi


class ImpApi(PeerApi):
    """What a daemon calls on an imp (over the link the imp dialled to the daemon's 7005)."""

    async def start_world(self, world: StartWorld) -> Started:
        return await self.peer.call_as(Started, "start_world", *msgspec.structs.astuple(world))

    async def stop_world(self, world: StopWorld) -> None:
        await self.peer.call("stop_world", *msgspec.structs.astuple(world))
