"""Tables of the master database: accounts, bans, logins, worlds, registration keys, GM worlds."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shardkit.store.database import UTCDateTime, make_metadata, utcnow

__all__ = [
    "ROLES", "Account", "Ban", "GMWorld", "LoginAttempt", "MasterBase", "RegistrationKey", "World",
]

ROLES: Final[tuple[str, ...]] = ("player", "gm", "admin")


class MasterBase(DeclarativeBase):
    """Declarative base (and MetaData) of the master schema."""

    metadata = make_metadata()


class Account(MasterBase):
    """A login account with its SCRAM credentials (the password itself is never stored)."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("role IN ('player', 'gm', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64), unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    stored_key: Mapped[bytes] = mapped_column(LargeBinary)
    server_key: Mapped[bytes] = mapped_column(LargeBinary)
    iterations: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16), default="player", server_default=text("'player'"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Ban(MasterBase):
    """A ban of an account and/or an IP range; ``expires_at`` NULL means permanent."""

    __tablename__ = "bans"
    __table_args__ = (
        CheckConstraint("account_id IS NOT NULL OR ip_range IS NOT NULL", name="target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    ip_range: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # unbanned (0002)
    lifted_by: Mapped[str | None] = mapped_column(String(64))


class LoginAttempt(MasterBase):
    """One login attempt, successful or not; ``account_id`` is NULL for unknown account names."""

    __tablename__ = "login_history"
    __table_args__ = (
        Index("ix_login_history_account_id_at", "account_id", "at"),
        Index("ix_login_history_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )


class World(MasterBase):
    """A world (shard) registered with the master, refreshed by its heartbeats."""

    __tablename__ = "worlds"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    capacity: Mapped[int] = mapped_column(Integer)
    last_seen_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )


class RegistrationKey(MasterBase):
    """A single-use key for closed-beta registration; only its SHA-256 is stored (0002)."""

    __tablename__ = "registration_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )
    created_by: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("accounts.id", ondelete="SET NULL")
    )


class GMWorld(MasterBase):
    """A world a game master is limited to (0003); a gm account with no rows acts in every world."""

    __tablename__ = "gm_worlds"

    account_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    world: Mapped[str] = mapped_column(String(64), primary_key=True)
