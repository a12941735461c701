"""Game masters' own commands on the GM port: ticket login, and reading the audit log."""

from __future__ import annotations

from typing import Any

from shardkit.gm.actions import Actions
from shardkit.gm.audit_book import AuditBook
from shardkit.gm.schemas import (
    GM_TICKET_DESTINATION,
    AuditPage,
    AuditQuery,
    GMLogin,
    GMWelcome,
    RecentAudit,
)
from shardkit.wire.rpc import Identity, RpcConnection, RpcError, rpc
from shardkit.wire.tickets import TicketRedeemer

GM = ("gm",)


class GMCommands:
    """``gm_login``, ``audit_log`` and ``audit_query``; every one is audited.

    A gm reads only the entries of its own actions; an admin reads them all.
    """

    def __init__(self, redeemer: TicketRedeemer, actions: Actions, audit: AuditBook) -> None:
        self.redeemer = redeemer
        self.actions = actions
        self.audit = audit

    @rpc("gm_login", GMLogin, public=True)
    async def gm_login(self, conn: RpcConnection, p: GMLogin) -> GMWelcome:
        """Log in with the single-use GM ticket the master issued to a gm or admin account."""
        if conn.identity is not None:
            raise RpcError("already_authenticated", "this connection is already logged in")
        ticket = self.redeemer.redeem(p.ticket, GM_TICKET_DESTINATION)
        conn.identity = Identity("gm", ticket.account_name, ticket.account_id)
        try:
            async with self.actions.run(conn, "gm_login") as act:
                act.detail["account_id"] = ticket.account_id
                caller = act.caller
        except RpcError:
            conn.identity = None  # not logged in: every command stays refused
            raise
        return GMWelcome(caller.account_id, caller.name, caller.role, sorted(caller.worlds))

    @rpc("audit_log", RecentAudit, roles=GM)
    async def audit_log(self, conn: RpcConnection, p: RecentAudit) -> list[dict[str, Any]]:
        """The latest audit events, newest first (a gm's own; all of them for an admin)."""
        async with self.actions.run(conn, "audit_log") as act:
            own = None if act.caller.role == "admin" else act.caller.actor
            return await self.audit.recent(p.limit, actor=own)

    @rpc("audit_query", AuditQuery, roles=GM)
    async def audit_query(self, conn: RpcConnection, p: AuditQuery) -> AuditPage:
        """One page of audit entries by actor, target, action and time, newest first."""
        async with self.actions.run(conn, "audit_query") as act:
            act.detail.update({k: v for k, v in (("actor", p.actor), ("target", p.target),
                                                 ("action", p.action), ("since", p.since),
                                                 ("until", p.until)) if v})
            if act.caller.role != "admin":
                if p.actor and p.actor != act.caller.actor:
                    raise RpcError("forbidden", f"a gm reads only its own entries"
                                                f" ({act.caller.actor}); admins read them all")
                p.actor = act.caller.actor
            page = await self.audit.page(p)
            act.detail["found"] = len(page.entries)
            return page
