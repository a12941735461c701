"""Tables of the character database: versioned characters (migration 0001) and guilds (0002)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shardkit.store.database import JSONType, UTCDateTime, make_metadata, utcnow

__all__ = ["RANKS", "Character", "CharacterBase", "Guild", "GuildInvite", "GuildMember"]

RANKS: Final[tuple[str, ...]] = ("leader", "officer", "member")


class CharacterBase(DeclarativeBase):
    """Declarative base (and MetaData) of the characters schema."""

    metadata = make_metadata()


class Character(CharacterBase):
    """A character. ``version`` increases by one on every change (optimistic concurrency).

    ``name_key`` (the case-folded name) is unique per world, including soft-deleted characters, so
    a deleted character can always be restored under its name.
    """

    __tablename__ = "characters"
    __table_args__ = (UniqueConstraint("world", "name_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, index=True)
    world: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    level: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    experience: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    health: Mapped[int] = mapped_column(Integer, default=100, server_default=text("100"))
    gold: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    inventory: Mapped[list[Any]] = mapped_column(
        JSONType, default=list, server_default=text("'[]'")
    )
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Guild(CharacterBase):
    """A guild of one world; ``name_key`` (the case-folded name) is unique per world."""

    __tablename__ = "guilds"
    __table_args__ = (UniqueConstraint("world", "name_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    world: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64))
    motd: Mapped[str] = mapped_column(String(512), default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )


class GuildMember(CharacterBase):
    """A character's membership: at most one guild per character (the primary key)."""

    __tablename__ = "guild_members"
    __table_args__ = (CheckConstraint("rank IN ('leader', 'officer', 'member')", name="rank"),)

    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True
    )
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"), index=True)
    rank: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )


class GuildInvite(CharacterBase):
    """A pending invitation of a character to a guild."""

    __tablename__ = "guild_invites"

    guild_id: Mapped[int] = mapped_column(
        ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True
    )
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
