"""The character server's guild calls: a daemon acts for one character of its own world."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import msgspec

from shardkit.characters.access import link_world
from shardkit.characters.audit import AuditTrail
from shardkit.characters.calls import DAEMON, GuildCalls
from shardkit.characters.names import check_guild_name
from shardkit.characters.schemas import (
    GuildAct,
    GuildChatTargets,
    GuildInfo,
    GuildNamed,
    GuildTarget,
    GuildText,
)
from shardkit.store.guilds import MAX_MOTD, GuildError, GuildStore
from shardkit.store.guilds import GuildInfo as StoredGuild
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.wire.text import clean_text

MAX_GUILD_CHAT = 256

T = TypeVar("T")


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

    def __init__(self, guilds: GuildStore, audit: AuditTrail) -> None:
        self.guilds = guilds
        self.audit = audit

    @GuildCalls.guild_create.serve()
    async def guild_create(self, conn: RpcConnection, p: GuildNamed) -> GuildInfo:
        world = link_world(conn)
        check_guild_name(p.guild)
        guild = await _guild_call(self.guilds.create(world, p.character_id, p.guild))
        self.audit.record("guild_create", f"{world}/guild/{guild.name}", {"by": p.character_id})
        return _info(guild)

    @GuildCalls.guild_invite.serve()
    async def guild_invite(self, conn: RpcConnection, p: GuildTarget) -> Ok:
        await _guild_call(self.guilds.invite(link_world(conn), p.character_id, p.character))
        return Ok()

    @GuildCalls.guild_accept.serve()
    async def guild_accept(self, conn: RpcConnection, p: GuildNamed) -> GuildInfo:
        world = link_world(conn)
        guild = await _guild_call(self.guilds.accept(world, p.character_id, p.guild))
        self.audit.record("guild_join", f"{world}/guild/{guild.name}", {"by": p.character_id})
        return _info(guild)

    @GuildCalls.guild_decline.serve()
    async def guild_decline(self, conn: RpcConnection, p: GuildNamed) -> Ok:
        await _guild_call(self.guilds.decline(link_world(conn), p.character_id, p.guild))
        return Ok()

    @GuildCalls.guild_invites.serve()
    async def guild_invites(self, conn: RpcConnection, p: GuildAct) -> list[str]:
        return await _guild_call(self.guilds.invites(link_world(conn), p.character_id))

    @GuildCalls.guild_remove.serve()
    async def guild_remove(self, conn: RpcConnection, p: GuildTarget) -> Ok:
        world = link_world(conn)
        removed = await _guild_call(self.guilds.remove(world, p.character_id, p.character))
        self.audit.record("guild_remove", f"{world}/{removed}", {"by": p.character_id})
        return Ok()

    @GuildCalls.guild_promote.serve()
    async def guild_promote(self, conn: RpcConnection, p: GuildTarget) -> Ok:
        await _guild_call(self.guilds.promote(link_world(conn), p.character_id, p.character))
        return Ok()

    @GuildCalls.guild_demote.serve()
    async def guild_demote(self, conn: RpcConnection, p: GuildTarget) -> Ok:
        await _guild_call(self.guilds.demote(link_world(conn), p.character_id, p.character))
        return Ok()

    @GuildCalls.guild_set_leader.serve()
    async def guild_set_leader(self, conn: RpcConnection, p: GuildTarget) -> Ok:
        world = link_world(conn)
        leader = await _guild_call(self.guilds.set_leader(world, p.character_id, p.character))
        self.audit.record("guild_set_leader", f"{world}/{leader}", {"by": p.character_id})
        return Ok()

    @GuildCalls.guild_set_motd.serve()
    async def guild_set_motd(self, conn: RpcConnection, p: GuildText) -> Ok:
        motd = clean_text(p.text, MAX_MOTD)
        await _guild_call(self.guilds.set_motd(link_world(conn), p.character_id, motd))
        return Ok()

    @GuildCalls.guild_roster.serve()
    async def guild_roster(self, conn: RpcConnection, p: GuildAct) -> GuildInfo:
        return _info(await _guild_call(self.guilds.roster(link_world(conn), p.character_id)))

    @GuildCalls.guild_leave.serve()
    async def guild_leave(self, conn: RpcConnection, p: GuildAct) -> Ok:
        world = link_world(conn)
        guild = await _guild_call(self.guilds.leave(world, p.character_id))
        self.audit.record("guild_leave", f"{world}/guild/{guild}", {"by": p.character_id})
        return Ok()

    @GuildCalls.guild_disband.serve()
    async def guild_disband(self, conn: RpcConnection, p: GuildAct) -> Ok:
        world = link_world(conn)
        guild = await _guild_call(self.guilds.disband(world, p.character_id))
        self.audit.record("guild_disband", f"{world}/guild/{guild}", {"by": p.character_id})
        return Ok()

    @rpc("guild_chat_targets", GuildText, roles=DAEMON)
    async def guild_chat_targets(self, conn: RpcConnection, p: GuildText) -> GuildChatTargets:
        """Who hears the character's guild message, and the text cleaned; the daemon delivers it."""
        targets = await _guild_call(self.guilds.chat_targets(link_world(conn), p.character_id))
        text = clean_text(p.text, MAX_GUILD_CHAT)
        return GuildChatTargets(targets.guild, targets.speaker, text, targets.member_ids)
