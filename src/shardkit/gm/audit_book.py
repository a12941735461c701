"""The GM server's audit log: what game masters and the character server did, newest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from shardkit.store.audit import AuditStore

MAX_AUDIT_ROWS = 500


class AuditBook:
    """Appends events to the gm database's audit log and reads back the latest ones."""

    def __init__(self, store: AuditStore, on_record: Callable[[], object] = lambda: None) -> None:
        self.store = store
        self._on_record = on_record  # hears of each event written (for metrics)

    async def record(self, actor: str, action: str, target: str | None,
                     detail: dict[str, Any]) -> None:
        await self.store.record(actor, action, target, detail)
        self._on_record()

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        """The latest events (at most ``MAX_AUDIT_ROWS``), newest first, as plain values."""
        rows = await self.store.recent(max(1, min(limit, MAX_AUDIT_ROWS)))
        return [msgspec.to_builtins(row) for row in rows]
