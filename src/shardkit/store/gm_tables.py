"""Tables of the GM database: the append-only audit log (migration gm/0001)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shardkit.store.database import JSONType, UTCDateTime, make_metadata, utcnow

__all__ = ["AuditLogEntry", "GMBase"]


class GMBase(DeclarativeBase):
    """Declarative base (and MetaData) of the gm schema."""

    metadata = make_metadata()


class AuditLogEntry(GMBase):
    """One GM or admin action: who did what to whom, with free-form details."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP"), index=True
    )
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
