"""The daemon's published API: what its WorldServers call on port 7000, and its backup vault."""

from __future__ import annotations

import asyncio

import msgspec

from shardkit.daemon.backup_schemas import (
    ChunkReceived,
    FetchedChunk,
    StoredBackup,
    UploadDone,
    UploadStarted,
)
from shardkit.daemon.layout_schemas import WorldLayout
from shardkit.daemon.schemas import ClusterRegistered, RegisterCluster, SpendTicket
from shardkit.imp.schemas import ImpHello, ImpWelcome, WorldExit
from shardkit.wire.peers import Ok, PeerApi
from shardkit.wire.rpc import RpcConnection


class DaemonApi(PeerApi):
    """What a WorldServer calls on its daemon, besides the relayed calls (characters/calls.py)."""

    async def register_cluster(self, cluster: RegisterCluster) -> ClusterRegistered:
        return await self.peer.call_as(ClusterRegistered, "register_cluster",
                                       *msgspec.structs.astuple(cluster))

    async def spend_ticket(self, ticket: SpendTicket) -> Ok:
        """Spend a world ticket once across the world (``ticket_used`` the second time)."""
        return await self.peer.call_as(Ok, "spend_ticket", *msgspec.structs.astuple(ticket))

    def population(self, number: int, players: int) -> None:
        """The WorldServer's player count (a notification)."""
        self.peer.notify("population", number, players)

    async def world_layout(self) -> WorldLayout:
        """Every WorldServer and imp of the world: where, state, restarts, crash loop."""
        return await self.peer.call_as(WorldLayout, "world_layout")


class ImpLinkApi(PeerApi):
    """What a WorldImp calls on its daemon's imp port (7005)."""

    async def hello(self, hello: ImpHello) -> ImpWelcome:
        return await self.peer.call_as(ImpWelcome, "imp_hello", *msgspec.structs.astuple(hello))

    async def ping(self, timeout: float) -> None:
        """The imp's heartbeat; ``timeout`` bounds the wait for the answer."""
        await asyncio.wait_for(self.peer.call("imp_ping"), timeout)

    def world_exited(self, exit_: WorldExit) -> None:
        """A WorldServer the imp started has exited (a notification)."""
        self.peer.notify("world_exited", *msgspec.structs.astuple(exit_))

    async def world_layout(self) -> WorldLayout:
        return await self.peer.call_as(WorldLayout, "world_layout")


class BackupVaultApi:
    """What a backup uploader (role ``backup``) calls on a daemon's vault, over one connection."""

    def __init__(self, conn: RpcConnection) -> None:
        self.conn = conn

    async def begin(self, name: str, size: int, sha256: str) -> UploadStarted:
        return await self.conn.call_as(UploadStarted, "backup_begin", name, size, sha256)

    async def chunk(self, upload_id: str, offset: int, data: bytes) -> ChunkReceived:
        return await self.conn.call_as(ChunkReceived, "backup_chunk", upload_id, offset, data)

    async def end(self, upload_id: str, *, timeout: float) -> UploadDone:
        """Finish an upload; the daemon fsyncs the whole file first (allow for a slow disk)."""
        done = await self.conn.call("backup_end", upload_id, timeout=timeout)
        return msgspec.convert(done, UploadDone)

    async def list(self) -> list[StoredBackup]:
        return await self.conn.call_as(list[StoredBackup], "backup_list")

    async def fetch(self, name: str, offset: int, length: int) -> FetchedChunk:
        return await self.conn.call_as(FetchedChunk, "backup_fetch", name, offset, length)
