"""GMServer process: port 1998, where the character server writes the audit log and game masters work."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from shardkit.config.settings import Settings
from shardkit.gm.commands import GMCommands
from shardkit.gm.schemas import GM_TICKET_KIND, GM_TICKET_LABEL, AuditEvent, RecentAudit
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.store.audit import AuditStore
from shardkit.store.database import Database
from shardkit.wire.handshake import ServiceAuth, derive_key
from shardkit.wire.rpc import Router, RpcConnection, RpcError, rpc, serve
from shardkit.wire.tickets import TicketRedeemer

log = logging.getLogger("shardkit.gm")

CHARACTERS_WAIT_S = 10.0
MAX_AUDIT_ROWS = 500


class GMPort:
    """What the character server does on the GM port: write and read the audit log."""

    def __init__(self, server: GMServer) -> None:
        self.server = server

    @rpc("audit", AuditEvent, roles=("characters",))
    async def audit(self, conn: RpcConnection, p: AuditEvent) -> dict[str, Any]:
        """Append an event to the audit log."""
        await self.server.audit(p.actor, p.action, p.target, p.detail)
        return {"ok": True}

    @rpc("recent_audit", RecentAudit, roles=("characters",))
    async def recent_audit(self, conn: RpcConnection, p: RecentAudit) -> list[dict[str, Any]]:
        """The latest audit events, newest first."""
        return await self.server.recent_audit(p.limit)


class GMServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        key = derive_key(settings.secrets.key("characters_link"), GM_TICKET_LABEL)
        self.redeemer = TicketRedeemer(key, kind=GM_TICKET_KIND)
        self.audit_store: AuditStore
        self.characters_conn: RpcConnection | None = None
        self.characters_up = asyncio.Event()
        self.metrics = ProcessMetrics()
        self.audit_events = self.metrics.counter("shardkit_gm_audit_events_total",
                                                 "Events written to the audit log.")
        self.metrics.live_gauge("shardkit_gm_character_server_linked",
                                "1 while the character server is linked, else 0.",
                                lambda: {(): float(self.characters_up.is_set())})

    # --------------------------------------------------------------- audit
    async def audit(
        self, actor: str, action: str, target: str | None, detail: dict[str, Any]
    ) -> None:
        await self.audit_store.record(actor, action, target, detail)
        self.audit_events.inc()

    async def recent_audit(self, limit: int) -> list[dict[str, Any]]:
        rows = await self.audit_store.recent(max(1, min(limit, MAX_AUDIT_ROWS)))
        return [msgspec.to_builtins(row) for row in rows]

    # ---------------------------------------------------- character server
    def _characters_connected(self, conn: RpcConnection) -> None:
        old = self.characters_conn
        if old is not None and old is not conn:
            old.close("replaced by a newer character server link")
        self.characters_conn = conn
        self.characters_up.set()
        log.info("character server linked from %s", conn.peer_ip)

        def gone(closed: RpcConnection) -> None:
            if self.characters_conn is closed:
                self.characters_conn = None
                self.characters_up.clear()

        conn.on_close(gone)

    async def characters(self, method: str, *params: Any) -> Any:
        """Call the character server over its link to this port."""
        if not self.characters_up.is_set():
            try:
                await asyncio.wait_for(self.characters_up.wait(), CHARACTERS_WAIT_S)
            except TimeoutError:
                raise RpcError("unavailable", "the character server is not connected") from None
        conn = self.characters_conn
        if conn is None:
            raise RpcError("unavailable", "the character server is not connected")
        return await conn.call(method, *params)

    # ----------------------------------------------------------------- run
    async def run(self, stop: asyncio.Event) -> int:
        settings = self.settings
        cfg = settings.server.gm
        db = await Database.open(settings.database_url(cfg.database_url, "gm.db"), schema="gm")
        self.audit_store = AuditStore(db)
        router = Router.for_services(
            GMPort(self),
            GMCommands(self),
            ServiceAuth({"characters": settings.secrets.key("characters_link")}, "gm",
                        self._characters_connected),
        )
        bind = settings.server.cluster.bind
        port = await serve(bind, cfg.port, router)
        announce(f"gm listening on {bind}:{port.port}")
        metrics = await self.metrics.serve(settings.server.cluster.metrics_host, cfg.metrics_port,
                                           "gm")
        await stop.wait()
        await metrics.close()
        await port.close()
        await db.close()
        return 0
