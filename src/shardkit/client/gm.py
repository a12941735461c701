"""Game-master client: log in to the master as a gm or admin account, then work on the GM port."""

from __future__ import annotations

from typing import Any

import msgspec

from shardkit.characters.schemas import DeletedCharacterInfo, RestoredCharacter
from shardkit.client.session import GameClient
from shardkit.gm.schemas import GMEntry, GMWelcome
from shardkit.wire.rpc import RpcConnection, RpcError, connect


class GMClient:
    """A game master's connections: the master (for the GM ticket) and the GM port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2002) -> None:
        self.player = GameClient(host, port)
        self.gm: RpcConnection | None = None
        self.welcome: GMWelcome | None = None

    async def login(self, name: str, password: str) -> GMWelcome:
        """SCRAM login on the master, a GM ticket from it, and ``gm_login`` on the GM port."""
        await self.player.login(name, password)
        assert self.player.master is not None
        entry = msgspec.convert(await self.player.master.call("gm_ticket"), GMEntry)
        if self.gm is not None:
            self.gm.close("logging in again")
        self.gm = await connect(entry.host, entry.port)
        self.welcome = msgspec.convert(await self.gm.call("gm_login", entry.ticket), GMWelcome)
        return self.welcome

    def _gm(self) -> RpcConnection:
        if self.gm is None or self.gm.closed.is_set():
            raise RpcError("not_logged_in", "log in as a game master first")
        return self.gm

    async def deleted_characters(self, world: str, limit: int = 50) -> list[DeletedCharacterInfo]:
        result = await self._gm().call("deleted_characters", world, limit)
        return msgspec.convert(result, list[DeletedCharacterInfo])

    async def restore_character(self, world: str, name: str) -> RestoredCharacter:
        result = await self._gm().call("restore_character", world, name)
        return msgspec.convert(result, RestoredCharacter)

    async def audit_log(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(await self._gm().call("audit_log", limit))

    async def close(self) -> None:
        if self.gm is not None:
            self.gm.close("client closed")
            self.gm = None
        await self.player.close()
