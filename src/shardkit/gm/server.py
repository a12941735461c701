"""GMServer process: port 1998, where the character server (and later GM tools) write the audit log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shardkit.config.settings import Settings
from shardkit.gm.schemas import AuditEvent, RecentAudit
from shardkit.runtime.main import announce
from shardkit.store.audit import AuditStore
from shardkit.store.database import Database
from shardkit.wire.handshake import ServiceAuth
from shardkit.wire.rpc import Router, RpcConnection, rpc, serve

log = logging.getLogger("shardkit.gm")


class GMPort:
    def __init__(self, audit: AuditStore) -> None:
        self.audit_store = audit

    @rpc("audit", AuditEvent, roles=("characters",))
    async def audit(self, conn: RpcConnection, p: AuditEvent) -> dict[str, Any]:
        """Append an event to the audit log."""
        await self.audit_store.record(p.actor, p.action, p.target, p.detail)
        return {"ok": True}

    @rpc("recent_audit", RecentAudit, roles=("characters",))
    async def recent_audit(self, conn: RpcConnection, p: RecentAudit) -> list[dict[str, Any]]:
        """The latest audit events, newest first."""
        rows = await self.audit_store.recent(max(1, min(p.limit, 500)))
        return [row if isinstance(row, dict) else _as_dict(row) for row in rows]


def _as_dict(row: Any) -> dict[str, Any]:
    import msgspec

    return msgspec.to_builtins(row)  # type: ignore[no-any-return]


class GMServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def run(self, stop: asyncio.Event) -> int:
        settings = self.settings
        cfg = settings.server.gm
        db = await Database.open(settings.database_url(cfg.database_url, "gm.db"), schema="gm")
        router = Router.for_services(
            GMPort(AuditStore(db)),
            ServiceAuth({"characters": settings.secrets.key("characters_link")}, "gm"),
        )
        bind = settings.server.cluster.bind
        port = await serve(bind, cfg.port, router)
        announce(f"gm listening on {bind}:{port.port}")
        await stop.wait()
        await port.close()
        await db.close()
        return 0
