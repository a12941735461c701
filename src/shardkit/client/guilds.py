"""Player-side guild calls on the world connection, mixed into GameClient."""

from __future__ import annotations

import msgspec

from shardkit.characters.schemas import GuildInfo
from shardkit.wire.rpc import RpcConnection


class GuildCalls:
    """Guild methods of the world port; they act as the character you entered the game with."""

    def _in_world(self) -> RpcConnection:  # provided by GameClient
        raise NotImplementedError

    async def guild_create(self, name: str) -> GuildInfo:
        return msgspec.convert(await self._in_world().call("guild_create", name), GuildInfo)

    async def guild_invite(self, character: str) -> None:
        await self._in_world().call("guild_invite", character)

    async def guild_accept(self, guild: str) -> GuildInfo:
        return msgspec.convert(await self._in_world().call("guild_accept", guild), GuildInfo)

    async def guild_decline(self, guild: str) -> None:
        await self._in_world().call("guild_decline", guild)

    async def guild_invites(self) -> list[str]:
        return msgspec.convert(await self._in_world().call("guild_invites"), list[str])

    async def guild_remove(self, character: str) -> None:
        await self._in_world().call("guild_remove", character)

    async def guild_promote(self, character: str) -> None:
        await self._in_world().call("guild_promote", character)

    async def guild_demote(self, character: str) -> None:
        await self._in_world().call("guild_demote", character)

    async def guild_set_leader(self, character: str) -> None:
        await self._in_world().call("guild_set_leader", character)

    async def guild_set_motd(self, text: str) -> None:
        await self._in_world().call("guild_set_motd", text)

    async def guild_roster(self) -> GuildInfo:
        return msgspec.convert(await self._in_world().call("guild_roster"), GuildInfo)

    async def guild_leave(self) -> None:
        await self._in_world().call("guild_leave")

    async def guild_disband(self) -> None:
        await self._in_world().call("guild_disband")

    async def guild_say(self, text: str) -> None:
        """Say something to your guild; members hear it as ``guild_chat`` wherever they play."""
        await self._in_world().call("guild_say", text)
