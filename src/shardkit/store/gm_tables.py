"""Tables of the GM database: the append-only audit log (migrations gm/0001, gm/0002)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shardkit.store.database import JSONType, UTCDateTime, make_metadata, utcnow

__all__ = ["AuditLogEntry", "GMBase"]


class GMBase(DeclarativeBase):
    """Declarative base (and MetaData) of the gm schema."""

    metadata = make_metadata()


class AuditLogEntry(GMBase):
    """One GM or admin action or refusal: who did what to whom, from where, and how it ended.

    ``result`` is ``ok``, ``refused`` (not allowed: role, world, target, rate) or ``failed``
    (allowed, but it did not work); ``address`` is the actor's IP (0002).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_target_id", "target", "id"),
        Index("ix_audit_log_action_id", "action", "id"),
    )

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
    address: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16), default="ok", server_default=text("'ok'"))
