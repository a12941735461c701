"""Guild storage: guilds per world, members with ranks, invitations; a change is one transaction."""

from __future__ import annotations

import builtins
from typing import Final

import msgspec
from sqlalchemy import ScalarResult, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shardkit.store.character_tables import GuildInvite
from shardkit.store.character_types import GuildInfo
from shardkit.store.database import Database, is_unique_violation, name_key, utcnow
from shardkit.store.guild_lookups import (
    GuildError,
    Named,
    acting_member,
    character,
    character_named,
    characters,
    guild_info,
    guild_named,
    guild_of,
    guilds,
    member_named,
    members,
    own_guild,
    rank_in,
    require_leader,
    require_officer,
)

__all__ = ["MAX_MOTD", "ChatTargets", "GuildError", "GuildInfo", "GuildStore"]

MAX_MOTD: Final = 256

_invites: Final[Table] = GuildInvite.__table__  # type: ignore[assignment]


class ChatTargets(msgspec.Struct, frozen=True, kw_only=True):
    """Who hears a guild message: the guild, the speaker's name and every member's character id."""

    guild: str
    speaker: str
    member_ids: builtins.list[int]


class GuildStore:
    """Guilds of the character database; every method acts as one character of one world."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------- actions
    async def create(self, world: str, character_id: int, name: str) -> GuildInfo:
        """Found a guild led by the character; ``name_taken`` or ``already_in_guild`` if not."""
        async with self._db.write() as conn:
            founder = await character(conn, world, character_id)
            if await guild_of(conn, founder.id) is not None:
                raise GuildError("already_in_guild", f"{founder.name} is already in a guild")
            try:
                guild_id = await conn.scalar(
                    insert(guilds)
                    .values(world=world, name=name, name_key=name_key(name), motd="",
                            created_at=utcnow())
                    .returning(guilds.c.id)
                )
            except IntegrityError as exc:
                if is_unique_violation(exc):
                    raise GuildError("name_taken", f"'{name}' is taken in {world}") from None
                raise
            assert guild_id is not None
            await self._join(conn, guild_id, founder, "leader")
            return await guild_info(conn, guild_id)

    async def _join(self, conn: AsyncConnection, guild_id: int, who: Named, rank: str) -> None:
        try:
            await conn.execute(
                insert(members).values(
                    character_id=who.id, guild_id=guild_id, rank=rank, joined_at=utcnow()
                )
            )
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise GuildError("already_in_guild", f"{who.name} is already in a guild") from None
            raise
        await conn.execute(delete(_invites).where(_invites.c.character_id == who.id))

    async def invite(self, world: str, character_id: int, name: str) -> str:
        """Invite a character (by name) into the actor's guild; officers and the leader may."""
        async with self._db.write() as conn:
            actor = await acting_member(conn, world, character_id)
            require_officer(actor, "invite")
            target = await character_named(conn, world, name)
            if await guild_of(conn, target.id) is not None:
                raise GuildError("already_in_guild", f"{target.name} is already in a guild")
            pending = await conn.scalar(
                select(_invites.c.guild_id).where(
                    _invites.c.guild_id == actor.guild_id, _invites.c.character_id == target.id
                )
            )
            if pending is None:
                await conn.execute(
                    insert(_invites).values(
                        guild_id=actor.guild_id, character_id=target.id, created_at=utcnow()
                    )
                )
            return target.name

    async def accept(self, world: str, character_id: int, guild: str) -> GuildInfo:
        """Join a guild that invited the character."""
        async with self._db.write() as conn:
            me = await character(conn, world, character_id)
            found = await guild_named(conn, world, guild)
            invited = await conn.scalar(
                select(_invites.c.guild_id).where(
                    _invites.c.guild_id == found.id, _invites.c.character_id == me.id
                )
            )
            if invited is None:
                raise GuildError("not_invited", f"{found.name} has not invited {me.name}")
            if await guild_of(conn, me.id) is not None:
                raise GuildError("already_in_guild", f"{me.name} is already in a guild")
            await self._join(conn, found.id, me, "member")
            return await guild_info(conn, found.id)

    async def decline(self, world: str, character_id: int, guild: str) -> None:
        """Turn down a guild's invitation."""
        async with self._db.write() as conn:
            me = await character(conn, world, character_id)
            found = await guild_named(conn, world, guild)
            result = await conn.execute(
                delete(_invites)
                .where(_invites.c.guild_id == found.id, _invites.c.character_id == me.id)
                .returning(_invites.c.guild_id)
            )
            if result.first() is None:
                raise GuildError("not_invited", f"{found.name} has not invited {me.name}")

    async def invites(self, world: str, character_id: int) -> builtins.list[str]:
        """Names of the guilds that invited the character, oldest invitation first."""
        async with self._db.engine.connect() as conn:
            me = await character(conn, world, character_id)
            rows: ScalarResult[str] = await conn.scalars(
                select(guilds.c.name)
                .join(_invites, _invites.c.guild_id == guilds.c.id)
                .where(_invites.c.character_id == me.id)
                .order_by(_invites.c.created_at, guilds.c.id)
            )
            return list(rows)

    async def remove(self, world: str, character_id: int, name: str) -> str:
        """Remove a member: officers remove members; the leader removes anyone but itself."""
        async with self._db.write() as conn:
            actor = await acting_member(conn, world, character_id)
            require_officer(actor, "remove members")
            target, rank = await member_named(conn, world, actor, name)
            if target.id == actor.character_id:
                raise GuildError("not_allowed", "to leave your guild, use leave")
            if actor.rank == "officer" and rank != "member":
                raise GuildError("not_allowed", "officers may remove only members")
            await conn.execute(delete(members).where(members.c.character_id == target.id))
            return target.name

    async def _set_rank(
        self, world: str, character_id: int, name: str, old: str, new: str, what: str
    ) -> str:
        async with self._db.write() as conn:
            actor = await acting_member(conn, world, character_id)
            require_leader(actor, what)
            target, rank = await member_named(conn, world, actor, name)
            if rank != old:
                raise GuildError("not_allowed", f"{target.name} is {rank}, not {old}")
            await conn.execute(
                update(members).where(members.c.character_id == target.id).values(rank=new)
            )
            return target.name

    async def promote(self, world: str, character_id: int, name: str) -> str:
        """Make a member an officer (the leader only)."""
        return await self._set_rank(world, character_id, name, "member", "officer", "promote")

    async def demote(self, world: str, character_id: int, name: str) -> str:
        """Make an officer a member again (the leader only)."""
        return await self._set_rank(world, character_id, name, "officer", "member", "demote")

    async def set_leader(self, world: str, character_id: int, name: str) -> str:
        """Hand the guild to another member; the old leader becomes an officer."""
        async with self._db.write() as conn:
            actor = await acting_member(conn, world, character_id)
            require_leader(actor, "hand over the guild")
            target, _rank = await member_named(conn, world, actor, name)
            if target.id == actor.character_id:
                raise GuildError("not_allowed", f"{target.name} already leads {actor.guild}")
            await conn.execute(
                update(members)
                .where(members.c.character_id == actor.character_id)
                .values(rank="officer")
            )
            await conn.execute(
                update(members).where(members.c.character_id == target.id).values(rank="leader")
            )
            return target.name

    async def set_motd(self, world: str, character_id: int, text: str) -> str:
        """Set the message of the day (officers and the leader); trimmed and cut to MAX_MOTD."""
        motd = text.strip()[:MAX_MOTD]
        async with self._db.write() as conn:
            actor = await acting_member(conn, world, character_id)
            require_officer(actor, "set the message of the day")
            await conn.execute(
                update(guilds).where(guilds.c.id == actor.guild_id).values(motd=motd)
            )
            return motd

    async def roster(self, world: str, character_id: int) -> GuildInfo:
        """The character's guild: name, message of the day and members with their ranks."""
        async with self._db.engine.connect() as conn:
            _me, guild_id = await own_guild(conn, world, character_id)
            return await guild_info(conn, guild_id)

    async def leave(self, world: str, character_id: int) -> str:
        """Leave the guild; a leader may leave only as the last member (which disbands it)."""
        async with self._db.write() as conn:
            actor = await acting_member(conn, world, character_id)
            if actor.rank == "leader":
                others = await conn.scalar(
                    select(members.c.character_id)
                    .where(members.c.guild_id == actor.guild_id,
                           members.c.character_id != actor.character_id)
                    .limit(1)
                )
                if others is not None:
                    raise GuildError(
                        "not_allowed", "the leader must hand over the guild or disband it first"
                    )
                await self._drop_guild(conn, actor.guild_id)
            else:
                await conn.execute(
                    delete(members).where(members.c.character_id == actor.character_id)
                )
            return actor.guild

    async def disband(self, world: str, character_id: int) -> str:
        """Dissolve the guild (the leader only); its members and invitations go with it."""
        async with self._db.write() as conn:
            actor = await acting_member(conn, world, character_id)
            require_leader(actor, "disband the guild")
            await self._drop_guild(conn, actor.guild_id)
            return actor.guild

    @staticmethod
    async def _drop_guild(conn: AsyncConnection, guild_id: int) -> None:
        await conn.execute(delete(_invites).where(_invites.c.guild_id == guild_id))
        await conn.execute(delete(members).where(members.c.guild_id == guild_id))
        await conn.execute(delete(guilds).where(guilds.c.id == guild_id))

    async def chat_targets(self, world: str, character_id: int) -> ChatTargets:
        """Who hears the character's guild chat: the guild's name and every member's id."""
        async with self._db.engine.connect() as conn:
            me, guild_id = await own_guild(conn, world, character_id)
            guild = await conn.scalar(select(guilds.c.name).where(guilds.c.id == guild_id))
            if guild is None:
                raise GuildError("not_in_guild", f"{me.name} is not in a guild")
            ids: ScalarResult[int] = await conn.scalars(
                select(members.c.character_id)
                .join(characters, characters.c.id == members.c.character_id)
                .where(members.c.guild_id == guild_id, characters.c.deleted_at.is_(None))
                .order_by(members.c.character_id)
            )
            return ChatTargets(guild=guild, speaker=me.name, member_ids=list(ids))

    async def drop_character(self, character_id: int) -> str | None:
        """A character was deleted: take it out of its guild and drop its invitations.

        A leader's guild passes to its longest-serving officer, else its longest-serving member;
        a guild left empty is disbanded. Returns the guild's name, or None if it had none.
        """
        async with self._db.write() as conn:
            await conn.execute(delete(_invites).where(_invites.c.character_id == character_id))
            guild_id = await guild_of(conn, character_id)
            if guild_id is None:
                return None
            guild = await conn.scalar(
                select(guilds.c.name).where(guilds.c.id == guild_id).with_for_update()
            )
            rank = await rank_in(conn, guild_id, character_id)
            await conn.execute(delete(members).where(members.c.character_id == character_id))
            if rank == "leader":
                heir = (
                    await conn.execute(
                        select(members.c.character_id)
                        .join(characters, characters.c.id == members.c.character_id)
                        .where(members.c.guild_id == guild_id, characters.c.deleted_at.is_(None))
                        .order_by(
                            (members.c.rank != "officer"), members.c.joined_at,
                            members.c.character_id,
                        )
                        .limit(1)
                    )
                ).first()
                if heir is None:
                    await self._drop_guild(conn, guild_id)
                else:
                    await conn.execute(
                        update(members)
                        .where(members.c.character_id == heir.character_id)
                        .values(rank="leader")
                    )
            return None if guild is None else str(guild)
