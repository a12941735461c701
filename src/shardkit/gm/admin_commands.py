"""Admins' GM commands: list the game masters, make a gm or a player, limit a gm to worlds."""

from __future__ import annotations

from shardkit.gm.actions import Actions
from shardkit.gm.calls import GMMasterCalls
from shardkit.gm.schemas import GameMasterInfo, RoleCommand, WorldsCommand
from shardkit.gm.targets import Targets
from shardkit.master.gm_schemas import GameMastersQuery, GMAccount, SetRole, SetWorlds
from shardkit.wire.rpc import RpcConnection, RpcError, rpc

GM = ("gm",)
ROLES_GIVEN = ("gm", "player")


def _info(account: GMAccount) -> GameMasterInfo:
    return GameMasterInfo(account.account_id, account.name, account.role, account.worlds)


class AdminCommands:
    """``game_masters``, ``set_role`` and ``set_worlds``: for admins only (``access.RULES``)."""

    def __init__(self, actions: Actions, targets: Targets) -> None:
        self.actions = actions
        self.targets = targets

    @rpc("game_masters", roles=GM)
    async def game_masters(self, conn: RpcConnection) -> list[GameMasterInfo]:
        """Every gm and admin account, with the worlds each gm is limited to."""
        async with self.actions.run(conn, "game_masters") as act:
            found = await GMMasterCalls.gm_game_masters.send(self.targets.peer,
                                                             GameMastersQuery())
            act.detail["found"] = len(found)
            return [_info(account) for account in found]

    @rpc("set_role", RoleCommand, roles=GM)
    async def set_role(self, conn: RpcConnection, p: RoleCommand) -> GameMasterInfo:
        """Make an account a gm (grant) or a player again (revoke)."""
        async with self.actions.run(conn, "set_role", f"account:{p.account[:64]}") as act:
            if p.role not in ROLES_GIVEN:
                raise RpcError("bad_params", "`role`: gm or player (admins are made on the"
                                             " master's manhole)")
            account = await self.targets.account(name=p.account)
            act.target = f"account:{account.name}"
            act.detail.update(role_before=account.role, role_after=p.role)
            done = await GMMasterCalls.gm_set_role.send(self.targets.peer, SetRole(
                account.account_id, p.role, act.caller.actor))
            return _info(done)

    @rpc("set_worlds", WorldsCommand, roles=GM)
    async def set_worlds(self, conn: RpcConnection, p: WorldsCommand) -> GameMasterInfo:
        """Limit a gm to some worlds; none: every world."""
        async with self.actions.run(conn, "set_worlds", f"account:{p.account[:64]}") as act:
            account = await self.targets.account(name=p.account)
            act.target = f"account:{account.name}"
            act.detail.update(worlds_before=account.worlds, worlds=sorted(set(p.worlds)))
            done = await GMMasterCalls.gm_set_worlds.send(self.targets.peer, SetWorlds(
                account.account_id, p.worlds, act.caller.actor))
            return _info(done)
