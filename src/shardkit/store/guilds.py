"""Guild storage: guilds per world, members with ranks, invitations; each change one locked transaction."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, NamedTuple

import msgspec
from sqlalchemy import ScalarResult, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shardkit.store.character_tables import Character, Guild, GuildInvite, GuildMember
from shardkit.store.database import Database, StoreError, is_unique_violation, name_key, utcnow

__all__ = ["MAX_MOTD", "ChatTargets", "GuildError", "GuildInfo", "GuildMemberInfo", "GuildStore"]

MAX_MOTD: Final = 256

_characters: Final[Table] = Character.__table__  # type: ignore[assignment]
_guilds: Final[Table] = Guild.__table__  # type: ignore[assignment]
_members: Final[Table] = GuildMember.__table__  # type: ignore[assignment]
_invites: Final[Table] = GuildInvite.__table__  # type: ignore[assignment]

_RANK_ORDER: Final = {"leader": 0, "officer": 1, "member": 2}


class GuildError(StoreError):
    """A guild action refused; ``code`` is stable (``not_in_guild``, ``not_allowed``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class GuildMemberInfo(msgspec.Struct, frozen=True, kw_only=True):
    character_id: int
    name: str
    rank: str


class GuildInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A guild with its message of the day and roster (leader, officers, members; by name)."""

    id: int
    world: str
    name: str
    motd: str
    members: builtins.list[GuildMemberInfo]


class ChatTargets(msgspec.Struct, frozen=True, kw_only=True):
    """Who hears a guild message: the guild, the speaker's name and every member's character id."""

    guild: str
    speaker: str
    member_ids: builtins.list[int]


class _Actor(NamedTuple):
    character_id: int
    name: str
    guild_id: int
    guild: str
    rank: str


class _Named(NamedTuple):
    id: int
    name: str


def _officer(actor: _Actor, what: str) -> None:
    if actor.rank not in ("leader", "officer"):
        raise GuildError("not_allowed", f"only the leader and officers may {what}")


def _leader(actor: _Actor, what: str) -> None:
    if actor.rank != "leader":
        raise GuildError("not_allowed", f"only the leader may {what}")


class GuildStore:
    """Guilds of the character database; every method acts as one character of one world."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: SQLite takes the write lock up front (BEGIN IMMEDIATE)."""
        async with self._db.engine.connect() as conn:
            if self._db.dialect == "sqlite":
                await conn.execution_options(sqlite_begin="IMMEDIATE")
            async with conn.begin():
                yield conn

    # ------------------------------------------------------------- lookups
    @staticmethod
    async def _character(conn: AsyncConnection, world: str, character_id: int) -> _Named:
        row = (
            await conn.execute(
                select(_characters.c.id, _characters.c.name).where(
                    _characters.c.id == character_id,
                    _characters.c.world == world,
                    _characters.c.deleted_at.is_(None),
                )
            )
        ).first()
        if row is None:
            raise GuildError("no_such_character", f"no character {character_id} in {world}")
        return _Named(row.id, row.name)

    @staticmethod
    async def _target(conn: AsyncConnection, world: str, name: str) -> _Named:
        row = (
            await conn.execute(
                select(_characters.c.id, _characters.c.name).where(
                    _characters.c.world == world,
                    _characters.c.name_key == name_key(name),
                    _characters.c.deleted_at.is_(None),
                )
            )
        ).first()
        if row is None:
            raise GuildError("no_such_character", f"no character '{name}' in {world}")
        return _Named(row.id, row.name)

    @staticmethod
    async def _guild_by_name(conn: AsyncConnection, world: str, name: str) -> _Named:
        row = (
            await conn.execute(
                select(_guilds.c.id, _guilds.c.name)
                .where(_guilds.c.world == world, _guilds.c.name_key == name_key(name))
                .with_for_update()
            )
        ).first()
        if row is None:
            raise GuildError("no_such_guild", f"no guild '{name}' in {world}")
        return _Named(row.id, row.name)

    @staticmethod
    async def _guild_of(conn: AsyncConnection, character_id: int) -> int | None:
        found = await conn.scalar(
            select(_members.c.guild_id).where(_members.c.character_id == character_id)
        )
        return None if found is None else int(found)

    @staticmethod
    async def _rank(conn: AsyncConnection, guild_id: int, character_id: int) -> str | None:
        rank = await conn.scalar(
            select(_members.c.rank).where(
                _members.c.guild_id == guild_id, _members.c.character_id == character_id
            )
        )
        return None if rank is None else str(rank)

    async def _actor(self, conn: AsyncConnection, world: str, character_id: int) -> _Actor:
        """The acting character and its guild, with the guild's row locked for this transaction.

        The membership is read again after the lock, so it is what every other change to the
        guild (which takes the same lock first) left behind.
        """
        character = await self._character(conn, world, character_id)
        guild_id = await self._guild_of(conn, character_id)
        guild = None
        if guild_id is not None:
            guild = (
                await conn.execute(
                    select(_guilds.c.name).where(_guilds.c.id == guild_id).with_for_update()
                )
            ).first()
        rank = None if guild is None or guild_id is None else await self._rank(
            conn, guild_id, character_id
        )
        if guild is None or guild_id is None or rank is None:
            raise GuildError("not_in_guild", f"{character.name} is not in a guild")
        return _Actor(character.id, character.name, guild_id, guild.name, rank)

    async def _member(
        self, conn: AsyncConnection, world: str, actor: _Actor, name: str
    ) -> tuple[_Named, str]:
        """A character of the actor's guild by name, and its rank."""
        target = await self._target(conn, world, name)
        rank = await self._rank(conn, actor.guild_id, target.id)
        if rank is None:
            raise GuildError("not_a_member", f"{target.name} is not in {actor.guild}")
        return target, rank

    async def _info(self, conn: AsyncConnection, guild_id: int) -> GuildInfo:
        guild = (
            await conn.execute(
                select(_guilds.c.id, _guilds.c.world, _guilds.c.name, _guilds.c.motd).where(
                    _guilds.c.id == guild_id
                )
            )
        ).one()
        rows = await conn.execute(
            select(_characters.c.id, _characters.c.name, _characters.c.name_key, _members.c.rank)
            .join(_characters, _characters.c.id == _members.c.character_id)
            .where(_members.c.guild_id == guild_id, _characters.c.deleted_at.is_(None))
        )
        ordered = sorted(rows, key=lambda r: (_RANK_ORDER.get(r.rank, 9), r.name_key))
        members = [GuildMemberInfo(character_id=r.id, name=r.name, rank=r.rank) for r in ordered]
        return GuildInfo(
            id=guild.id, world=guild.world, name=guild.name, motd=guild.motd, members=members
        )

    # ------------------------------------------------------------- actions
    async def create(self, world: str, character_id: int, name: str) -> GuildInfo:
        """Found a guild led by the character; ``name_taken`` or ``already_in_guild`` if not."""
        async with self._write() as conn:
            founder = await self._character(conn, world, character_id)
            if await self._guild_of(conn, founder.id) is not None:
                raise GuildError("already_in_guild", f"{founder.name} is already in a guild")
            try:
                guild_id = await conn.scalar(
                    insert(_guilds)
                    .values(world=world, name=name, name_key=name_key(name), motd="",
                            created_at=utcnow())
                    .returning(_guilds.c.id)
                )
            except IntegrityError as exc:
                if is_unique_violation(exc):
                    raise GuildError("name_taken", f"'{name}' is taken in {world}") from None
                raise
            assert guild_id is not None
            await self._join(conn, guild_id, founder, "leader")
            return await self._info(conn, guild_id)

    async def _join(self, conn: AsyncConnection, guild_id: int, who: _Named, rank: str) -> None:
        try:
            await conn.execute(
                insert(_members).values(
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
        async with self._write() as conn:
            actor = await self._actor(conn, world, character_id)
            _officer(actor, "invite")
            target = await self._target(conn, world, name)
            if await self._guild_of(conn, target.id) is not None:
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
        async with self._write() as conn:
            me = await self._character(conn, world, character_id)
            found = await self._guild_by_name(conn, world, guild)
            invited = await conn.scalar(
                select(_invites.c.guild_id).where(
                    _invites.c.guild_id == found.id, _invites.c.character_id == me.id
                )
            )
            if invited is None:
                raise GuildError("not_invited", f"{found.name} has not invited {me.name}")
            if await self._guild_of(conn, me.id) is not None:
                raise GuildError("already_in_guild", f"{me.name} is already in a guild")
            await self._join(conn, found.id, me, "member")
            return await self._info(conn, found.id)

    async def decline(self, world: str, character_id: int, guild: str) -> None:
        """Turn down a guild's invitation."""
        async with self._write() as conn:
            me = await self._character(conn, world, character_id)
            found = await self._guild_by_name(conn, world, guild)
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
            me = await self._character(conn, world, character_id)
            rows: ScalarResult[str] = await conn.scalars(
                select(_guilds.c.name)
                .join(_invites, _invites.c.guild_id == _guilds.c.id)
                .where(_invites.c.character_id == me.id)
                .order_by(_invites.c.created_at, _guilds.c.id)
            )
            return list(rows)

    async def remove(self, world: str, character_id: int, name: str) -> str:
        """Remove a member: officers remove members; the leader removes anyone but itself."""
        async with self._write() as conn:
            actor = await self._actor(conn, world, character_id)
            _officer(actor, "remove members")
            target, rank = await self._member(conn, world, actor, name)
            if target.id == actor.character_id:
                raise GuildError("not_allowed", "to leave your guild, use leave")
            if actor.rank == "officer" and rank != "member":
                raise GuildError("not_allowed", "officers may remove only members")
            await conn.execute(delete(_members).where(_members.c.character_id == target.id))
            return target.name

    async def _set_rank(
        self, world: str, character_id: int, name: str, old: str, new: str, what: str
    ) -> str:
        async with self._write() as conn:
            actor = await self._actor(conn, world, character_id)
            _leader(actor, what)
            target, rank = await self._member(conn, world, actor, name)
            if rank != old:
                raise GuildError("not_allowed", f"{target.name} is {rank}, not {old}")
            await conn.execute(
                update(_members).where(_members.c.character_id == target.id).values(rank=new)
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
        async with self._write() as conn:
            actor = await self._actor(conn, world, character_id)
            _leader(actor, "hand over the guild")
            target, _rank = await self._member(conn, world, actor, name)
            if target.id == actor.character_id:
                raise GuildError("not_allowed", f"{target.name} already leads {actor.guild}")
            await conn.execute(
                update(_members)
                .where(_members.c.character_id == actor.character_id)
                .values(rank="officer")
            )
            await conn.execute(
                update(_members).where(_members.c.character_id == target.id).values(rank="leader")
            )
            return target.name

    async def set_motd(self, world: str, character_id: int, text: str) -> str:
        """Set the message of the day (officers and the leader); trimmed and cut to MAX_MOTD."""
        motd = text.strip()[:MAX_MOTD]
        async with self._write() as conn:
            actor = await self._actor(conn, world, character_id)
            _officer(actor, "set the message of the day")
            await conn.execute(update(_guilds).where(_guilds.c.id == actor.guild_id).values(motd=motd))
            return motd

    async def roster(self, world: str, character_id: int) -> GuildInfo:
        """The character's guild: name, message of the day and members with their ranks."""
        async with self._db.engine.connect() as conn:
            me = await self._character(conn, world, character_id)
            guild_id = await self._guild_of(conn, me.id)
            if guild_id is None:
                raise GuildError("not_in_guild", f"{me.name} is not in a guild")
            return await self._info(conn, guild_id)

    async def leave(self, world: str, character_id: int) -> str:
        """Leave the guild; a leader may leave only as the last member (which disbands it)."""
        async with self._write() as conn:
            actor = await self._actor(conn, world, character_id)
            if actor.rank == "leader":
                others = await conn.scalar(
                    select(_members.c.character_id)
                    .where(_members.c.guild_id == actor.guild_id,
                           _members.c.character_id != actor.character_id)
                    .limit(1)
                )
                if others is not None:
                    raise GuildError(
                        "not_allowed", "the leader must hand over the guild or disband it first"
                    )
                await self._drop_guild(conn, actor.guild_id)
            else:
                await conn.execute(
                    delete(_members).where(_members.c.character_id == actor.character_id)
                )
            return actor.guild

    async def disband(self, world: str, character_id: int) -> str:
        """Dissolve the guild (the leader only); its members and invitations go with it."""
        async with self._write() as conn:
            actor = await self._actor(conn, world, character_id)
            _leader(actor, "disband the guild")
            await self._drop_guild(conn, actor.guild_id)
            return actor.guild

    @staticmethod
    async def _drop_guild(conn: AsyncConnection, guild_id: int) -> None:
        await conn.execute(delete(_invites).where(_invites.c.guild_id == guild_id))
        await conn.execute(delete(_members).where(_members.c.guild_id == guild_id))
        await conn.execute(delete(_guilds).where(_guilds.c.id == guild_id))

    async def chat_targets(self, world: str, character_id: int) -> ChatTargets:
        """Who hears the character's guild chat: the guild's name and every member's id."""
        async with self._db.engine.connect() as conn:
            me = await self._character(conn, world, character_id)
            guild_id = await self._guild_of(conn, me.id)
            guild = None if guild_id is None else await conn.scalar(
                select(_guilds.c.name).where(_guilds.c.id == guild_id)
            )
            if guild_id is None or guild is None:
                raise GuildError("not_in_guild", f"{me.name} is not in a guild")
            ids: ScalarResult[int] = await conn.scalars(
                select(_members.c.character_id)
                .join(_characters, _characters.c.id == _members.c.character_id)
                .where(_members.c.guild_id == guild_id, _characters.c.deleted_at.is_(None))
                .order_by(_members.c.character_id)
            )
            return ChatTargets(guild=guild, speaker=me.name, member_ids=list(ids))

    async def drop_character(self, character_id: int) -> str | None:
        """A character was deleted: take it out of its guild and drop its invitations.

        A leader's guild passes to its longest-serving officer, else its longest-serving member;
        a guild left empty is disbanded. Returns the guild's name, or None if it had none.
        """
        async with self._write() as conn:
            await conn.execute(delete(_invites).where(_invites.c.character_id == character_id))
            guild_id = await self._guild_of(conn, character_id)
            if guild_id is None:
                return None
            guild = await conn.scalar(
                select(_guilds.c.name).where(_guilds.c.id == guild_id).with_for_update()
            )
            rank = await self._rank(conn, guild_id, character_id)
            await conn.execute(delete(_members).where(_members.c.character_id == character_id))
            if rank == "leader":
                heir = (
                    await conn.execute(
                        select(_members.c.character_id)
                        .join(_characters, _characters.c.id == _members.c.character_id)
                        .where(_members.c.guild_id == guild_id, _characters.c.deleted_at.is_(None))
                        .order_by(
                            (_members.c.rank != "officer"), _members.c.joined_at,
                            _members.c.character_id,
                        )
                        .limit(1)
                    )
                ).first()
                if heir is None:
                    await self._drop_guild(conn, guild_id)
                else:
                    await conn.execute(
                        update(_members)
                        .where(_members.c.character_id == heir.character_id)
                        .values(rank="leader")
                    )
            return None if guild is None else str(guild)
