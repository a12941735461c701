"""Guilds on the world port: players act as their active character; guild chat from the daemon reaches members here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from shardkit.characters.names import guild_name_problem
from shardkit.characters.schemas import GuildInfo
from shardkit.wire.rpc import RpcConnection, RpcError, encode_notification, rpc
from shardkit.world.schemas import GuildChatDelivery, GuildMemberName, GuildMessage, GuildName

if TYPE_CHECKING:
    from shardkit.world.server import WorldServer

ACTIVE_CHARACTER = "character_id"  # conn.state key: the character the player entered the game with


def active_character(conn: RpcConnection) -> int:
    """The id of the character this player entered the game with, or ``not_in_game``."""
    character_id = conn.state.get(ACTIVE_CHARACTER)
    if character_id is None:
        raise RpcError("not_in_game", "enter the game with a character first")
    return int(character_id)


class GuildPort:
    """Guild methods of the world port, forwarded through the daemon to the character server."""

    def __init__(self, world: WorldServer) -> None:
        self.world = world

    async def _call(self, conn: RpcConnection, method: str, *params: Any) -> Any:
        return await self.world.daemon.call(method, active_character(conn), *params)

    @rpc("guild_create", GuildName)
    async def guild_create(self, conn: RpcConnection, p: GuildName) -> GuildInfo:
        """Found a guild and lead it."""
        problem = guild_name_problem(p.guild)
        if problem:
            raise RpcError("bad_name", problem)
        return msgspec.convert(await self._call(conn, "guild_create", p.guild), GuildInfo)

    @rpc("guild_invite", GuildMemberName)
    async def guild_invite(self, conn: RpcConnection, p: GuildMemberName) -> Any:
        """Invite a character of this world into your guild (officers and the leader)."""
        return await self._call(conn, "guild_invite", p.character)

    @rpc("guild_accept", GuildName)
    async def guild_accept(self, conn: RpcConnection, p: GuildName) -> GuildInfo:
        """Join a guild that invited you."""
        return msgspec.convert(await self._call(conn, "guild_accept", p.guild), GuildInfo)

    @rpc("guild_decline", GuildName)
    async def guild_decline(self, conn: RpcConnection, p: GuildName) -> Any:
        """Turn down a guild's invitation."""
        return await self._call(conn, "guild_decline", p.guild)

    @rpc("guild_invites")
    async def guild_invites(self, conn: RpcConnection) -> list[str]:
        """The guilds that invited you."""
        return msgspec.convert(await self._call(conn, "guild_invites"), list[str])

    @rpc("guild_remove", GuildMemberName)
    async def guild_remove(self, conn: RpcConnection, p: GuildMemberName) -> Any:
        """Remove a member (officers remove members; the leader anyone)."""
        return await self._call(conn, "guild_remove", p.character)

    @rpc("guild_promote", GuildMemberName)
    async def guild_promote(self, conn: RpcConnection, p: GuildMemberName) -> Any:
        """Make a member an officer (the leader only)."""
        return await self._call(conn, "guild_promote", p.character)

    @rpc("guild_demote", GuildMemberName)
    async def guild_demote(self, conn: RpcConnection, p: GuildMemberName) -> Any:
        """Make an officer a member again (the leader only)."""
        return await self._call(conn, "guild_demote", p.character)

    @rpc("guild_set_leader", GuildMemberName)
    async def guild_set_leader(self, conn: RpcConnection, p: GuildMemberName) -> Any:
        """Hand your guild to another member; you become an officer."""
        return await self._call(conn, "guild_set_leader", p.character)

    @rpc("guild_set_motd", GuildMessage)
    async def guild_set_motd(self, conn: RpcConnection, p: GuildMessage) -> Any:
        """Set the guild's message of the day (officers and the leader)."""
        return await self._call(conn, "guild_set_motd", p.text)

    @rpc("guild_roster")
    async def guild_roster(self, conn: RpcConnection) -> GuildInfo:
        """Your guild: name, message of the day and members with their ranks."""
        return msgspec.convert(await self._call(conn, "guild_roster"), GuildInfo)

    @rpc("guild_leave")
    async def guild_leave(self, conn: RpcConnection) -> Any:
        """Leave your guild (a leader only as its last member)."""
        return await self._call(conn, "guild_leave")

    @rpc("guild_disband")
    async def guild_disband(self, conn: RpcConnection) -> Any:
        """Dissolve your guild (the leader only)."""
        return await self._call(conn, "guild_disband")

    @rpc("guild_say", GuildMessage)
    async def guild_say(self, conn: RpcConnection, p: GuildMessage) -> None:
        """Say something every member of your guild hears, on any WorldServer of the world."""
        await self._call(conn, "guild_say", p.text)


class GuildChatEvents:
    """What the daemon sends this WorldServer over its link: guild chat to deliver."""

    def __init__(self, world: WorldServer) -> None:
        self.world = world

    @rpc("guild_chat", GuildChatDelivery, roles=("daemon",))
    def guild_chat(self, conn: RpcConnection, p: GuildChatDelivery) -> None:
        """A guild message: pass it to the players here whose active character is a member."""
        members = set(p.member_ids)
        data = encode_notification("guild_chat", p.guild, p.speaker, p.text)
        for player in list(self.world.players.values()):
            if player.state.get(ACTIVE_CHARACTER) in members:
                player.send_encoded(data)
