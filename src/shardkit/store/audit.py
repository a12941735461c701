"""Audit log storage for the GMServer: an append-only record of GM and admin actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, func, insert, or_, select

from shardkit.store.database import Database, utcnow
from shardkit.store.gm_tables import AuditLogEntry

__all__ = ["AuditEntry", "AuditFilter", "AuditStore"]


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One audit log entry as plain values."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    address: str | None = None
    result: str = "ok"


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which entries to read: each field given narrows it (all of them: every entry).

    ``target`` matches a target in any letter case, and a name without a world
    (``Bob``) also matches the character in every world (``Atlantis/Bob``).
    ``since`` is inclusive, ``until`` exclusive.
    """

    actor: str | None = None
    target: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        entry = AuditLogEntry
        where: list[ColumnElement[bool]] = []
        if self.actor is not None:
            where.append(entry.actor == self.actor)
        if self.action is not None:
            where.append(entry.action == self.action)
        if self.target is not None:
            wanted = self.target.lower()
            target = func.lower(entry.target)
            if "/" in wanted or ":" in wanted:
                where.append(target == wanted)
            else:
                escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                where.append(or_(target == wanted, target.like(f"%/{escaped}", escape="\\")))
        if self.since is not None:
            where.append(entry.at >= self.since)
        if self.until is not None:
            where.append(entry.at < self.until)
        return where


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
        *,
        address: str | None = None,
        result: str = "ok",
    ) -> AuditEntry:
        """Append an entry (committed before this returns)."""
        values: dict[str, Any] = {
            "at": utcnow(),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": {} if detail is None else detail,
            "address": address,
            "result": result,
        }
        async with self._db.session() as session, session.begin():
            entry_id = await session.scalar(
                insert(AuditLogEntry).values(**values).returning(AuditLogEntry.id)
            )
        assert entry_id is not None
        return AuditEntry(id=entry_id, **values)

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest (highest id) first."""
        return await self.query(AuditFilter(), limit=limit)

    async def query(self, where: AuditFilter, *, before_id: int = 0,
                    limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries that match, newest (highest id) first; with
        ``before_id``, only older ones (the next page: the last id of the one before)."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        conditions = where.conditions()
        if before_id > 0:
            conditions.append(AuditLogEntry.id < before_id)
        async with self._db.session() as session:
            rows = await session.scalars(
                select(AuditLogEntry).where(*conditions)
                .order_by(AuditLogEntry.id.desc()).limit(limit)
            )
            return [msgspec.convert(row, AuditEntry, from_attributes=True) for row in rows]
