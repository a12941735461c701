"""Reads inside a guild transaction: characters, guilds, ranks, rosters; refusals as GuildError."""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import msgspec
from sqlalchemy import Select, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shardkit.store.character_tables import Character, Guild
from shardkit.store.character_tables import GuildMember as Membership
from shardkit.store.character_types import GuildInfo, GuildMember
from shardkit.store.database import StoreError, name_key

__all__ = [
    "Actor",
    "GuildError",
    "Named",
    "acting_member",
    "character",
    "character_named",
    "guild_info",
    "guild_named",
    "guild_of",
    "member_named",
    "own_guild",
    "rank_in",
    "require_leader",
    "require_officer",
]

characters: Final[Table] = Character.__table__  # type: ignore[assignment]
guilds: Final[Table] = Guild.__table__  # type: ignore[assignment]
members: Final[Table] = Membership.__table__  # type: ignore[assignment]

_RANK_ORDER: Final = {"leader": 0, "officer": 1, "member": 2}


class GuildError(StoreError):
    """A guild action refused; ``code`` is stable (``not_in_guild``, ``not_allowed``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Named(NamedTuple):
    """A character or a guild: its id and its name as stored."""

    id: int
    name: str


class Actor(NamedTuple):
    """The character a guild action is done as, with its guild and rank."""

    character_id: int
    name: str
    guild_id: int
    guild: str
    rank: str


def require_officer(actor: Actor, what: str) -> None:
    """Refuse ``what`` (``not_allowed``) unless the actor is the leader or an officer."""
    if actor.rank not in ("leader", "officer"):
        raise GuildError("not_allowed", f"only the leader and officers may {what}")


def require_leader(actor: Actor, what: str) -> None:
    """Refuse ``what`` (``not_allowed``) unless the actor is the leader."""
    if actor.rank != "leader":
        raise GuildError("not_allowed", f"only the leader may {what}")


async def _named(conn: AsyncConnection, query: Select[Any], code: str, missing: str) -> Named:
    row = (await conn.execute(query)).first()
    if row is None:
        raise GuildError(code, missing)
    return Named(row.id, row.name)


def _living(*where: Any) -> Select[Any]:
    return select(characters.c.id, characters.c.name).where(
        *where, characters.c.deleted_at.is_(None)
    )


async def character(conn: AsyncConnection, world: str, character_id: int) -> Named:
    """The undeleted character ``character_id`` of ``world``; ``no_such_character`` if none."""
    query = _living(characters.c.id == character_id, characters.c.world == world)
    return await _named(conn, query, "no_such_character", f"no character {character_id} in {world}")


async def character_named(conn: AsyncConnection, world: str, name: str) -> Named:
    """The undeleted character called ``name`` (any letter case) in ``world``."""
    query = _living(characters.c.world == world, characters.c.name_key == name_key(name))
    return await _named(conn, query, "no_such_character", f"no character '{name}' in {world}")


async def guild_named(conn: AsyncConnection, world: str, name: str) -> Named:
    """The guild called ``name`` in ``world``, its row locked for this transaction."""
    query = (
        select(guilds.c.id, guilds.c.name)
        .where(guilds.c.world == world, guilds.c.name_key == name_key(name))
        .with_for_update()
    )
    return await _named(conn, query, "no_such_guild", f"no guild '{name}' in {world}")


async def guild_of(conn: AsyncConnection, character_id: int) -> int | None:
    """The id of the character's guild, or None."""
    found = await conn.scalar(
        select(members.c.guild_id).where(members.c.character_id == character_id)
    )
    return None if found is None else int(found)


async def rank_in(conn: AsyncConnection, guild_id: int, character_id: int) -> str | None:
    """The character's rank in the guild, or None if it is not a member."""
    rank = await conn.scalar(
        select(members.c.rank).where(
            members.c.guild_id == guild_id, members.c.character_id == character_id
        )
    )
    return None if rank is None else str(rank)


async def own_guild(conn: AsyncConnection, world: str, character_id: int) -> tuple[Named, int]:
    """The character and the id of its guild (not locked); ``not_in_guild`` if it has none."""
    me = await character(conn, world, character_id)
    guild_id = await guild_of(conn, me.id)
    if guild_id is None:
        raise GuildError("not_in_guild", f"{me.name} is not in a guild")
    return me, guild_id


async def acting_member(conn: AsyncConnection, world: str, character_id: int) -> Actor:
    """The acting character and its guild, with the guild's row locked for this transaction.

    The membership is read again after the lock, so it is what every other change to the
    guild (which takes the same lock first) left behind.
    """
    me = await character(conn, world, character_id)
    guild_id = await guild_of(conn, character_id)
    guild = None
    if guild_id is not None:
        guild = (
            await conn.execute(
                select(guilds.c.name).where(guilds.c.id == guild_id).with_for_update()
            )
        ).first()
    rank = None if guild is None or guild_id is None else await rank_in(
        conn, guild_id, character_id
    )
    if guild is None or guild_id is None or rank is None:
        raise GuildError("not_in_guild", f"{me.name} is not in a guild")
    return Actor(me.id, me.name, guild_id, guild.name, rank)


async def member_named(
    conn: AsyncConnection, world: str, actor: Actor, name: str
) -> tuple[Named, str]:
    """A character of the actor's guild by name, and its rank; ``not_a_member`` if not in it."""
    target = await character_named(conn, world, name)
    rank = await rank_in(conn, actor.guild_id, target.id)
    if rank is None:
        raise GuildError("not_a_member", f"{target.name} is not in {actor.guild}")
    return target, rank


async def guild_info(conn: AsyncConnection, guild_id: int) -> GuildInfo:
    """The guild's name, message of the day and roster: leader, officers, members, by name."""
    guild = (
        await conn.execute(select(guilds.c.name, guilds.c.motd).where(guilds.c.id == guild_id))
    ).one()
    rows = await conn.execute(
        select(characters.c.name, characters.c.name_key, members.c.rank)
        .join(characters, characters.c.id == members.c.character_id)
        .where(members.c.guild_id == guild_id, characters.c.deleted_at.is_(None))
    )
    ordered = sorted(rows, key=lambda r: (_RANK_ORDER.get(r.rank, 9), r.name_key))
    roster = [msgspec.convert(row, GuildMember, from_attributes=True) for row in ordered]
    return GuildInfo(name=guild.name, motd=guild.motd, members=roster)
