"""GMServer process: port 1998, where the character server writes the audit log and GMs work."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shardkit.config.settings import Settings
from shardkit.gm.actions import Actions
from shardkit.gm.admin_commands import AdminCommands
from shardkit.gm.audit_book import AuditBook
from shardkit.gm.character_commands import CharacterCommands
from shardkit.gm.commands import GMCommands
from shardkit.gm.limits import CommandLimits
from shardkit.gm.moderation import Moderation
from shardkit.gm.player_commands import PlayerCommands
from shardkit.gm.schemas import GM_TICKET_KIND, GM_TICKET_LABEL, AuditEvent, RecentAudit
from shardkit.gm.targets import Targets
from shardkit.gm.zone_commands import ZoneCommands
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.store.audit import AuditStore
from shardkit.store.database import Database
from shardkit.wire.handshake import ServiceAuth, derive_key
from shardkit.wire.link import InboundLink
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import Router, RpcConnection, rpc, serve
from shardkit.wire.tickets import TicketRedeemer

log = logging.getLogger("shardkit.gm")

CHARACTERS_WAIT_S = 10.0


class GMPort:
    """What the character server does on the GM port: write and read the audit log."""

    def __init__(self, audit: AuditBook) -> None:
        self.audit_book = audit

    @rpc("audit", AuditEvent, roles=("characters",))
    async def audit(self, conn: RpcConnection, p: AuditEvent) -> Ok:
        """Append an event to the audit log."""
        await self.audit_book.record(p.actor, p.action, p.target, p.detail)
        return Ok()

    @rpc("recent_audit", RecentAudit, roles=("characters",))
    async def recent_audit(self, conn: RpcConnection, p: RecentAudit) -> list[dict[str, Any]]:
        """The latest audit events, newest first."""
        return await self.audit_book.recent(p.limit)


class GMServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        key = derive_key(settings.secrets.key("characters_link"), GM_TICKET_LABEL)
        self.redeemer = TicketRedeemer(key, kind=GM_TICKET_KIND)
        self.characters = InboundLink("the character server", wait_s=CHARACTERS_WAIT_S)
        self.metrics = ProcessMetrics()
        self.audit_events = self.metrics.counter("shardkit_gm_audit_events_total",
                                                 "Events written to the audit log.")
        self.metrics.live_gauge("shardkit_gm_character_server_linked",
                                "1 while the character server is linked, else 0.",
                                lambda: {(): float(self.characters.up.is_set())})

    async def run(self, stop: asyncio.Event) -> int:
        settings = self.settings
        cfg = settings.server.gm
        db = await Database.open(settings.database_url(cfg.database_url, "gm.db"), schema="gm")
        audit = AuditBook(AuditStore(db), on_record=self.audit_events.inc)
        targets = Targets(self.characters)
        actions = Actions(audit, lambda account_id: targets.account(account_id),
                          CommandLimits(cfg.rate_limits))
        router = Router.for_services(
            GMPort(audit),
            GMCommands(self.redeemer, actions, audit),
            PlayerCommands(actions, targets),
            Moderation(actions, targets),
            CharacterCommands(actions, targets),
            ZoneCommands(actions, targets),
            AdminCommands(actions, targets),
            ServiceAuth({"characters": settings.secrets.key("characters_link")}, "gm",
                        self.characters.attach),
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
