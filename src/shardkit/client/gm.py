"""Game-master client: log in to the master as a gm or admin account, then work on the GM port."""

from __future__ import annotations

from typing import Any

from shardkit.characters.schemas import DeletedCharacterInfo, RestoredCharacter
from shardkit.client.session import GameClient
from shardkit.gm.api import GMApi
from shardkit.gm.schemas import GMWelcome
from shardkit.master.api import MasterPlayerApi
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
        entry = await MasterPlayerApi(self.player.master).gm_ticket()
        if self.gm is not None:
            self.gm.close("logging in again")
        self.gm = await connect(entry.host, entry.port)
        self.welcome = await GMApi(self.gm).gm_login(entry.ticket)
        return self.welcome

    def _gm(self) -> GMApi:
        if self.gm is None or self.gm.closed.is_set():
            raise RpcError("not_logged_in", "log in as a game master first")
        return GMApi(self.gm)

    @property
    def api(self) -> GMApi:
        """Every command of the GM port, typed (gm/api.py); ``not_logged_in`` before login."""
        return self._gm()

    async def deleted_characters(self, world: str, limit: int = 50) -> list[DeletedCharacterInfo]:
        return await self._gm().deleted_characters(world, limit)

    async def restore_character(self, world: str, name: str) -> RestoredCharacter:
        return await self._gm().restore_character(world, name)

    async def audit_log(self, limit: int = 50) -> list[dict[str, Any]]:
        return await self._gm().audit_log(limit)

    async def close(self) -> None:
        if self.gm is not None:
            self.gm.close("client closed")
            self.gm = None
        await self.player.close()
