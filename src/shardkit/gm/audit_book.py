"""The GM server's audit log: what game masters and the character server did, newest first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from shardkit.gm.schemas import AuditPage, AuditQuery, AuditRow
from shardkit.store.audit import AuditEntry, AuditFilter, AuditStore
from shardkit.wire.rpc import RpcError

MAX_AUDIT_ROWS = 500


def _time(text: str, field: str) -> datetime | None:
    """An RFC 3339 time from a query ("" = none); a time without a zone is UTC."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise RpcError("bad_params", f"`{field}`: not an RFC 3339 time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _row(entry: AuditEntry) -> AuditRow:
    return AuditRow(entry.id, entry.at.isoformat(), entry.actor, entry.address, entry.action,
                    entry.target, entry.result, entry.detail)


class AuditBook:
    """Appends events to the gm database's audit log and reads them back."""

    def __init__(self, store: AuditStore, on_record: Callable[[], object] = lambda: None) -> None:
        self.store = store
        self._on_record = on_record  # hears of each event written (for metrics)

    async def record(self, actor: str, action: str, target: str | None,
                     detail: dict[str, Any], *, address: str | None = None,
                     result: str = "ok") -> None:
        await self.store.record(actor, action, target, detail, address=address, result=result)
        self._on_record()

    async def recent(self, limit: int, *, actor: str | None = None) -> list[dict[str, Any]]:
        """The latest events (at most ``MAX_AUDIT_ROWS``; only ``actor``'s when given), newest
        first, as plain values."""
        rows = await self.store.query(AuditFilter(actor=actor),
                                      limit=max(1, min(limit, MAX_AUDIT_ROWS)))
        return [msgspec.to_builtins(row) for row in rows]

    async def page(self, q: AuditQuery) -> AuditPage:
        """One page of the entries matching ``q``, newest first, and where the next starts."""
        limit = max(1, min(q.limit, MAX_AUDIT_ROWS))
        where = AuditFilter(actor=q.actor or None, target=q.target or None,
                            action=q.action or None, since=_time(q.since, "since"),
                            until=_time(q.until, "until"))
        rows = await self.store.query(where, before_id=q.before_id, limit=limit)
        next_before = rows[-1].id if len(rows) == limit else 0
        return AuditPage([_row(row) for row in rows], next_before)
