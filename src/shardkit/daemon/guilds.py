"""The daemon's guild methods for its WorldServers: forwarded to the character server; guild chat goes to every WorldServer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from shardkit.characters.schemas import GuildChatTargets
from shardkit.daemon.schemas import CharacterAct, CharacterGuild, CharacterTarget, CharacterText
from shardkit.wire.rpc import RpcConnection, encode_notification, rpc
from shardkit.wire.throttle import KeyedThrottle, throttled

if TYPE_CHECKING:
    from shardkit.daemon.server import WorldDaemon


class GuildForwarding:
    """Guild calls of port 7000: each adds this world's name and goes to the character server."""

    def __init__(self, daemon: WorldDaemon) -> None:
        self.daemon = daemon
        # Guild chat reaches every WorldServer of the world: one budget per character, here,
        # where every WorldServer's guild_say passes (the same budget as zone chat).
        self.chat = KeyedThrottle(daemon.world.chat_per_s, daemon.world.chat_burst)

    async def _forward(self, method: str, *params: Any) -> Any:
        return await self.daemon.characters(method, self.daemon.world.name, *params)

    @rpc("guild_create", CharacterGuild, roles=("world",))
    async def guild_create(self, conn: RpcConnection, p: CharacterGuild) -> Any:
        """Found a guild led by the character."""
        return await self._forward("guild_create", p.character_id, p.guild)

    @rpc("guild_invite", CharacterTarget, roles=("world",))
    async def guild_invite(self, conn: RpcConnection, p: CharacterTarget) -> Any:
        """Invite a character into the guild."""
        return await self._forward("guild_invite", p.character_id, p.character)

    @rpc("guild_accept", CharacterGuild, roles=("world",))
    async def guild_accept(self, conn: RpcConnection, p: CharacterGuild) -> Any:
        """Join a guild that invited the character."""
        return await self._forward("guild_accept", p.character_id, p.guild)

    @rpc("guild_decline", CharacterGuild, roles=("world",))
    async def guild_decline(self, conn: RpcConnection, p: CharacterGuild) -> Any:
        """Turn down a guild's invitation."""
        return await self._forward("guild_decline", p.character_id, p.guild)

    @rpc("guild_invites", CharacterAct, roles=("world",))
    async def guild_invites(self, conn: RpcConnection, p: CharacterAct) -> Any:
        """The guilds that invited the character."""
        return await self._forward("guild_invites", p.character_id)

    @rpc("guild_remove", CharacterTarget, roles=("world",))
    async def guild_remove(self, conn: RpcConnection, p: CharacterTarget) -> Any:
        """Remove a member from the guild."""
        return await self._forward("guild_remove", p.character_id, p.character)

    @rpc("guild_promote", CharacterTarget, roles=("world",))
    async def guild_promote(self, conn: RpcConnection, p: CharacterTarget) -> Any:
        """Make a member an officer."""
        return await self._forward("guild_promote", p.character_id, p.character)

    @rpc("guild_demote", CharacterTarget, roles=("world",))
    async def guild_demote(self, conn: RpcConnection, p: CharacterTarget) -> Any:
        """Make an officer a member again."""
        return await self._forward("guild_demote", p.character_id, p.character)

    @rpc("guild_set_leader", CharacterTarget, roles=("world",))
    async def guild_set_leader(self, conn: RpcConnection, p: CharacterTarget) -> Any:
        """Hand the guild to another member."""
        return await self._forward("guild_set_leader", p.character_id, p.character)

    @rpc("guild_set_motd", CharacterText, roles=("world",))
    async def guild_set_motd(self, conn: RpcConnection, p: CharacterText) -> Any:
        """Set the guild's message of the day."""
        return await self._forward("guild_set_motd", p.character_id, p.text)

    @rpc("guild_roster", CharacterAct, roles=("world",))
    async def guild_roster(self, conn: RpcConnection, p: CharacterAct) -> Any:
        """The character's guild: name, message of the day and members with ranks."""
        return await self._forward("guild_roster", p.character_id)

    @rpc("guild_leave", CharacterAct, roles=("world",))
    async def guild_leave(self, conn: RpcConnection, p: CharacterAct) -> Any:
        """Leave the guild."""
        return await self._forward("guild_leave", p.character_id)

    @rpc("guild_disband", CharacterAct, roles=("world",))
    async def guild_disband(self, conn: RpcConnection, p: CharacterAct) -> Any:
        """Dissolve the guild."""
        return await self._forward("guild_disband", p.character_id)

    @rpc("guild_say", CharacterText, roles=("world",))
    async def guild_say(self, conn: RpcConnection, p: CharacterText) -> None:
        """Send a guild message to the members on every WorldServer of this world."""
        bucket = self.chat.bucket(p.character_id)
        if not bucket.take():
            raise throttled(bucket, "you are chatting too fast")
        targets = msgspec.convert(
            await self._forward("guild_say", p.character_id, p.text), GuildChatTargets
        )
        if not targets.text or not targets.member_ids:
            return
        data = encode_notification(
            "guild_chat", targets.guild, targets.speaker, targets.text, targets.member_ids
        )
        for world_server, _registration in list(self.daemon.clusters.values()):
            world_server.send_encoded(data)
