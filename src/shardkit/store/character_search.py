"""Finding characters by name across worlds for game masters: state, guild and last save."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec
from sqlalchemy import Table, select

from shardkit.store.character_tables import Character, Guild, GuildMember
from shardkit.store.character_types import CharacterState
from shardkit.store.database import Database, name_key

__all__ = ["CharacterSearch", "FoundCharacter"]

_characters: Final[Table] = Character.__table__  # type: ignore[assignment]
_guilds: Final[Table] = Guild.__table__  # type: ignore[assignment]
_members: Final[Table] = GuildMember.__table__  # type: ignore[assignment]

MAX_FOUND = 50


class FoundCharacter(msgspec.Struct, frozen=True, kw_only=True):
    """An undeleted character with its guild (``""`` when in none) and its last save."""

    state: CharacterState
    guild: str
    guild_rank: str
    updated_at: datetime


class CharacterSearch:
    """Read-only lookups of the character database (opened with ``schema="characters"``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def named(self, name: str, world: str = "") -> list[FoundCharacter]:
        """Undeleted characters called ``name`` (any letter case) in ``world``, or in any world
        (``""``), ordered by world."""
        query = (
            select(_characters, _guilds.c.name.label("guild_name"), _members.c.rank)
            .outerjoin(_members, _members.c.character_id == _characters.c.id)
            .outerjoin(_guilds, _guilds.c.id == _members.c.guild_id)
            .where(_characters.c.name_key == name_key(name), _characters.c.deleted_at.is_(None))
            .order_by(_characters.c.world)
            .limit(MAX_FOUND)
        )
        if world:
            query = query.where(_characters.c.world == world)
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            FoundCharacter(
                state=msgspec.convert(row, CharacterState, from_attributes=True),
                guild=row.guild_name or "", guild_rank=row.rank or "",
                updated_at=row.updated_at,
            )
            for row in rows
        ]
