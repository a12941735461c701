"""The character server's guild methods: daemons act for one character of their own world."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from shardkit.characters.access import own_world
from shardkit.characters.names import guild_name_problem
from shardkit.characters.schemas import (
    GuildAct,
    GuildChatTargets,
    GuildInfo,
    GuildNamed,
    GuildTarget,
    GuildText,
)
from shardkit.store.guilds import MAX_MOTD, GuildError
from shardkit.store.guilds import GuildInfo as StoredGuild
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.wire.text import clean_text

if TYPE_CHECKING:
    from shardkit.characters.server import CharacterServer

MAX_GUILD_CHAT = 256

T = TypeVar("T")

OK: dict[str, Any] = {"ok": True}


async def _guild_call(action: Awaitable[T]) -> T:
    """Run a store action; its refusals become RpcErrors with the same code."""
    try:
        return await action
    except GuildError as exc:
        raise RpcError(exc.code, exc.message) from None


def _info(guild: StoredGuild) -> GuildInfo:
    info = msgspec.convert(msgspec.to_builtins(guild), GuildInfo)
    # a message of the day stored before text was cleaned on the way in is cleaned on the way out
    return msgspec.structs.replace(info, motd=clean_text(info.motd, MAX_MOTD))


class GuildService:
    """Guilds, kept per world: create, invite and join, ranks, message of the day, chat."""

    def __init__(self, server: CharacterServer) -> None:
        self.server = server

    def _audit(self, action: str, target: str, detail: dict[str, object]) -> None:
        self.server.audit("characters", action, target, detail)

    @rpc("guild_create", GuildNamed, roles=("daemon",))
    async def guild_create(self, conn: RpcConnection, p: GuildNamed) -> GuildInfo:
        """Found a guild led by the character; guild names follow rules like character names."""
        own_world(conn, p.world)
        problem = guild_name_problem(p.guild)
        if problem:
            raise RpcError("bad_name", problem)
        guild = await _guild_call(self.server.guilds.create(p.world, p.character_id, p.guild))
        self._audit("guild_create", f"{p.world}/guild/{guild.name}", {"by": p.character_id})
        return _info(guild)

    @rpc("guild_invite", GuildTarget, roles=("daemon",))
    async def guild_invite(self, conn: RpcConnection, p: GuildTarget) -> dict[str, Any]:
        """Invite a character of this world into the guild (officers and the leader)."""
        own_world(conn, p.world)
        await _guild_call(self.server.guilds.invite(p.world, p.character_id, p.character))
        return OK

    @rpc("guild_accept", GuildNamed, roles=("daemon",))
    async def guild_accept(self, conn: RpcConnection, p: GuildNamed) -> GuildInfo:
        """Join a guild that invited the character."""
        own_world(conn, p.world)
        guild = await _guild_call(self.server.guilds.accept(p.world, p.character_id, p.guild))
        self._audit("guild_join", f"{p.world}/guild/{guild.name}", {"by": p.character_id})
        return _info(guild)

    @rpc("guild_decline", GuildNamed, roles=("daemon",))
    async def guild_decline(self, conn: RpcConnection, p: GuildNamed) -> dict[str, Any]:
        """Turn down a guild's invitation."""
        own_world(conn, p.world)
        await _guild_call(self.server.guilds.decline(p.world, p.character_id, p.guild))
        return OK

    @rpc("guild_invites", GuildAct, roles=("daemon",))
    async def guild_invites(self, conn: RpcConnection, p: GuildAct) -> list[str]:
        """The guilds that invited the character."""
        own_world(conn, p.world)
        return await _guild_call(self.server.guilds.invites(p.world, p.character_id))

    @rpc("guild_remove", GuildTarget, roles=("daemon",))
    async def guild_remove(self, conn: RpcConnection, p: GuildTarget) -> dict[str, Any]:
        """Remove a member (officers remove members; the leader anyone)."""
        own_world(conn, p.world)
        removed = await _guild_call(self.server.guilds.remove(p.world, p.character_id, p.character))
        self._audit("guild_remove", f"{p.world}/{removed}", {"by": p.character_id})
        return OK

    @rpc("guild_promote", GuildTarget, roles=("daemon",))
    async def guild_promote(self, conn: RpcConnection, p: GuildTarget) -> dict[str, Any]:
        """Make a member an officer (the leader only)."""
        own_world(conn, p.world)
        await _guild_call(self.server.guilds.promote(p.world, p.character_id, p.character))
        return OK

    @rpc("guild_demote", GuildTarget, roles=("daemon",))
    async def guild_demote(self, conn: RpcConnection, p: GuildTarget) -> dict[str, Any]:
        """Make an officer a member again (the leader only)."""
        own_world(conn, p.world)
        await _guild_call(self.server.guilds.demote(p.world, p.character_id, p.character))
        return OK

    @rpc("guild_set_leader", GuildTarget, roles=("daemon",))
    async def guild_set_leader(self, conn: RpcConnection, p: GuildTarget) -> dict[str, Any]:
        """Hand the guild to another member; the old leader becomes an officer."""
        own_world(conn, p.world)
        leader = await _guild_call(
            self.server.guilds.set_leader(p.world, p.character_id, p.character)
        )
        self._audit("guild_set_leader", f"{p.world}/{leader}", {"by": p.character_id})
        return OK

    @rpc("guild_set_motd", GuildText, roles=("daemon",))
    async def guild_set_motd(self, conn: RpcConnection, p: GuildText) -> dict[str, Any]:
        """Set the guild's message of the day (officers and the leader)."""
        own_world(conn, p.world)
        motd = clean_text(p.text, MAX_MOTD)
        await _guild_call(self.server.guilds.set_motd(p.world, p.character_id, motd))
        return OK

    @rpc("guild_roster", GuildAct, roles=("daemon",))
    async def guild_roster(self, conn: RpcConnection, p: GuildAct) -> GuildInfo:
        """The character's guild: name, message of the day and members with ranks."""
        own_world(conn, p.world)
        return _info(await _guild_call(self.server.guilds.roster(p.world, p.character_id)))

    @rpc("guild_leave", GuildAct, roles=("daemon",))
    async def guild_leave(self, conn: RpcConnection, p: GuildAct) -> dict[str, Any]:
        """Leave the guild; the leader only as its last member (which disbands it)."""
        own_world(conn, p.world)
        guild = await _guild_call(self.server.guilds.leave(p.world, p.character_id))
        self._audit("guild_leave", f"{p.world}/guild/{guild}", {"by": p.character_id})
        return OK

    @rpc("guild_disband", GuildAct, roles=("daemon",))
    async def guild_disband(self, conn: RpcConnection, p: GuildAct) -> dict[str, Any]:
        """Dissolve the guild (the leader only)."""
        own_world(conn, p.world)
        guild = await _guild_call(self.server.guilds.disband(p.world, p.character_id))
        self._audit("guild_disband", f"{p.world}/guild/{guild}", {"by": p.character_id})
        return OK

    @rpc("guild_say", GuildText, roles=("daemon",))
    async def guild_say(self, conn: RpcConnection, p: GuildText) -> GuildChatTargets:
        """Who hears the character's guild message; the daemon delivers it."""
        own_world(conn, p.world)
        targets = await _guild_call(self.server.guilds.chat_targets(p.world, p.character_id))
        text = clean_text(p.text, MAX_GUILD_CHAT)
        return GuildChatTargets(targets.guild, targets.speaker, text, targets.member_ids)
