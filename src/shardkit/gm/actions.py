"""Every GM command runs as one audited action: the caller's role checked, its outcome recorded.

``async with actions.run(conn, "kick", target) as act:`` reads the caller's role and worlds
from the master (now, not at login: a demoted game master loses them at once), refuses a
command the role may not run, spends the command's rate limit, and, whatever happens in the
block, writes one audit entry: who, from which address, what, on whom, and the result
(``ok``; ``refused``, with the reason, for what the caller may not do; ``failed``, with the
error, for what did not work). The block narrows the target and adds details as it learns
them, and checks worlds and targets through ``act.caller``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from shardkit.gm.access import Caller
from shardkit.gm.audit_book import AuditBook
from shardkit.gm.limits import CommandLimits
from shardkit.master.gm_schemas import GMAccount
from shardkit.runtime.peerlog import quote
from shardkit.wire.rpc import RpcConnection, RpcError

log = logging.getLogger("shardkit.gm")

REFUSALS = frozenset({"forbidden", "rate_limited"})
MAX_TEXT = 200  # characters of a reason or message kept in the audit log

AccountOf = Callable[[int], Awaitable[GMAccount]]
"""How the GM server learns an account's role and worlds now (from the master)."""


def clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass
class Action:
    """One command under way: who runs it and what the audit entry will say."""

    name: str
    target: str
    caller: Caller
    detail: dict[str, Any] = field(default_factory=dict)


class Actions:
    """Runs GM commands as audited actions (see the module's docstring)."""

    def __init__(self, audit: AuditBook, account_of: AccountOf, limits: CommandLimits) -> None:
        self.audit = audit
        self.account_of = account_of
        self.limits = limits

    async def caller(self, conn: RpcConnection, name: str) -> Caller:
        """The caller, if its role may run ``name``: for reads that are not audited (the names
        a console completes)."""
        identity = conn.identity
        assert identity is not None and identity.account_id is not None
        account = await self.account_of(identity.account_id)
        caller = Caller(account.account_id, account.name, account.role,
                        frozenset(account.worlds), conn.peer_ip)
        caller.require_game_master()
        caller.require(name)
        return caller

    @asynccontextmanager
    async def run(self, conn: RpcConnection, name: str, target: str = "") -> AsyncIterator[Action]:
        identity = conn.identity
        assert identity is not None and identity.account_id is not None  # role "gm": logged in
        act = Action(name, target[:255],
                     Caller(identity.account_id, identity.name, "?", frozenset(), conn.peer_ip))
        try:
            account = await self.account_of(identity.account_id)
            act.caller = Caller(account.account_id, account.name, account.role,
                                frozenset(account.worlds), conn.peer_ip)
            act.caller.require_game_master()
            rule = act.caller.require(name)
            if rule.limit:
                self.limits.spend(rule.limit, account.account_id)
            yield act
        except RpcError as exc:
            result = "refused" if exc.code in REFUSALS else "failed"
            act.detail.update(error=exc.code, message=clip(exc.message))
            await self._record(act, result)
            raise
        except Exception as exc:
            act.detail.update(error="internal", message=clip(type(exc).__name__))
            await self._record(act, "failed")
            raise
        else:
            await self._record(act, "ok")

    async def _record(self, act: Action, result: str) -> None:
        caller = act.caller
        detail = {"role": caller.role, **act.detail}
        try:
            await self.audit.record(caller.actor, act.name, act.target or None, detail,
                                    address=caller.address, result=result)
        except Exception:
            log.exception("could not write the audit entry of %s by %s (%s): %s",
                          act.name, quote(caller.actor), result, quote(detail, 300))
            raise
