"""Audit log storage for the GMServer: an append-only record of GM and admin actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import insert, select

from shardkit.store.database import Database, utcnow
from shardkit.store.gm_tables import AuditLogEntry

__all__ = ["AuditEntry", "AuditStore"]


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One audit log entry as plain values."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]


class AuditStore:
    """The audit log of the gm database (opened with ``schema="gm"``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an entry (committed before this returns)."""
        values: dict[str, Any] = {
            "at": utcnow(),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": {} if detail is None else detail,
        }
        async with self._db.session() as session, session.begin():
            entry_id = await session.scalar(
                insert(AuditLogEntry).values(**values).returning(AuditLogEntry.id)
            )
        assert entry_id is not None
        return AuditEntry(id=entry_id, **values)

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest (highest id) first."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        async with self._db.session() as session:
            rows = await session.scalars(
                select(AuditLogEntry).order_by(AuditLogEntry.id.desc()).limit(limit)
            )
            return [msgspec.convert(row, AuditEntry, from_attributes=True) for row in rows]
