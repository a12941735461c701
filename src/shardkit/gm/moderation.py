"""GM commands on accounts and addresses: ban, unban and the bans in force (the master's bans).

A ban keeps an account or an address out of every world, so only a game master who may act
in every world may ban or unban; a gm cannot ban an admin's account.
"""

from __future__ import annotations

from shardkit.gm.actions import Actions
from shardkit.gm.calls import GMMasterCalls
from shardkit.gm.schemas import BanCommand, UnbanCommand
from shardkit.gm.targets import Targets
from shardkit.master.gm_schemas import BanInfo, BanParams, BansQuery, Lifted, UnbanParams
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.wire.text import clean_text

GM = ("gm",)
MAX_REASON = 200
MAX_DURATION_S = 10 * 365 * 86400.0


def _target(account: str, address: str) -> str:
    if (account == "") == (address == ""):
        raise RpcError("bad_params", "name an account or an address (one of them)")
    return f"address:{address[:64]}" if address else f"account:{account[:64]}"


class Moderation:
    """``ban``, ``unban`` and ``bans`` on the GM port."""

    def __init__(self, actions: Actions, targets: Targets) -> None:
        self.actions = actions
        self.targets = targets

    @rpc("ban", BanCommand, roles=GM)
    async def ban(self, conn: RpcConnection, p: BanCommand) -> BanInfo:
        """Ban an account or an address range, for a while or for good, with a reason."""
        target = f"account:{p.account[:64]}" if p.account else f"address:{p.address[:64]}"
        async with self.actions.run(conn, "ban", target) as act:
            act.target = _target(p.account, p.address)
            act.caller.require_every_world("a ban")
            if p.duration_s is not None and not 0 < p.duration_s <= MAX_DURATION_S:
                raise RpcError("bad_params", "`duration_s`: more than 0 and at most ten years"
                                             " (none: for good)")
            reason = clean_text(p.reason, MAX_REASON)
            act.detail.update(duration_s=p.duration_s, reason=reason)
            account_id = 0
            if p.account:
                account = await self.targets.account(name=p.account)
                act.target = f"account:{account.name}"
                act.caller.require_not_admin(account.role, act.target)
                account_id = account.account_id
            info = await GMMasterCalls.gm_ban.send(self.targets.peer, BanParams(
                account_id, p.address, p.duration_s, reason, act.caller.actor))
            act.detail.update(ban_id=info.id, expires_at=info.expires_at)
            return info

    @rpc("unban", UnbanCommand, roles=GM)
    async def unban(self, conn: RpcConnection, p: UnbanCommand) -> Lifted:
        """Lift the bans in force on an account or on an exact address range."""
        target = f"account:{p.account[:64]}" if p.account else f"address:{p.address[:64]}"
        async with self.actions.run(conn, "unban", target) as act:
            act.target = _target(p.account, p.address)
            act.caller.require_every_world("lifting a ban")
            account_id = 0
            if p.account:
                account = await self.targets.account(name=p.account)
                act.target = f"account:{account.name}"
                account_id = account.account_id
            lifted = await GMMasterCalls.gm_unban.send(self.targets.peer, UnbanParams(
                account_id, p.address, act.caller.actor))
            act.detail["lifted"] = lifted.lifted
            return lifted

    @rpc("bans", roles=GM)
    async def bans(self, conn: RpcConnection) -> list[BanInfo]:
        """The bans in force, oldest first."""
        async with self.actions.run(conn, "bans") as act:
            found = await GMMasterCalls.gm_bans.send(self.targets.peer, BansQuery())
            act.detail["found"] = len(found)
            return found
