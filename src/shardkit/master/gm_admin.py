"""The master's side of the GM calls (gm/calls.py): roles, GM worlds, kicks and bans.

The GM server decides who may do what (it checks the acting game master's role and worlds);
the master answers for the character server's link, which carries the GM server's calls, and
keeps its own rules: an admin is never demoted or made over this path, and only a gm is
limited to worlds.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

from shardkit.gm.calls import GMMasterCalls
from shardkit.master.bans import ActiveBan, BanList, Network, parse_network
from shardkit.master.gm_schemas import (
    AccountIds,
    AccountQuery,
    BanInfo,
    BanParams,
    BansQuery,
    GameMastersQuery,
    GMAccount,
    KickDone,
    KickParams,
    Lifted,
    SetRole,
    SetWorlds,
    UnbanParams,
)
from shardkit.runtime.peerlog import quote
from shardkit.store.accounts import AccountStore
from shardkit.store.game_masters import GameMaster, GameMasterStore
from shardkit.wire.rpc import RpcConnection, RpcError

log = logging.getLogger("shardkit.master")

MAX_LISTED = 1000
MAX_REASON = 200
MAX_WORLDS = 64
ROLES_SET_HERE = ("gm", "player")


class Moderation(Protocol):
    """What the master does for a kick or a ban (the running MasterServer)."""

    bans: BanList

    def kick_account(self, account_id: int, reason: str, cause: str) -> tuple[bool, int]: ...
    async def ban_account(self, account_id: int, reason: str, seconds: float | None,
                          by: str) -> ActiveBan: ...
    async def ban_network(self, network: Network, reason: str, seconds: float | None,
                          by: str) -> ActiveBan: ...
    async def unban_account(self, account_id: int, by: str) -> int: ...
    async def unban_network(self, network: Network, by: str) -> int: ...


def _account(gm: GameMaster) -> GMAccount:
    return GMAccount(gm.id, gm.name, gm.role, list(gm.worlds))


def ban_info(ban: ActiveBan) -> BanInfo:
    expires = (None if ban.expires_at is None
               else datetime.fromtimestamp(ban.expires_at, UTC).isoformat())
    return BanInfo(ban.id, ban.target, ban.reason, expires)


def _network(address: str) -> Network:
    network = parse_network(address)
    if network is None:
        raise RpcError("bad_params", f"`address`: {quote(address, 80)} is not an address or range")
    return network


def _by(by: str) -> str:
    return by[:64] or "gm"


class GMAdmin:
    """GM calls the master answers for the character server (role ``characters``)."""

    def __init__(self, accounts: AccountStore, game_masters: GameMasterStore,
                 moderation: Moderation) -> None:
        self.accounts = accounts
        self.game_masters = game_masters
        self.moderation = moderation

    async def _one(self, account_id: int) -> GameMaster:
        found = (await self.game_masters.get([account_id])).get(account_id)
        if found is None:
            raise RpcError("no_such_account", f"no account #{account_id}")
        return found

    @GMMasterCalls.gm_account.serve()
    async def gm_account(self, conn: RpcConnection, p: AccountQuery) -> GMAccount:
        account_id = p.account_id
        if not account_id:
            record = await self.accounts.get_by_name(p.name)
            if record is None:
                raise RpcError("no_such_account", f"no account '{quote(p.name, 64)}'")
            account_id = record.id
        return _account(await self._one(account_id))

    @GMMasterCalls.gm_accounts.serve()
    async def gm_accounts(self, conn: RpcConnection, p: AccountIds) -> list[GMAccount]:
        found = await self.game_masters.get(p.account_ids[:MAX_LISTED])
        return [_account(found[i]) for i in sorted(found)]

    @GMMasterCalls.gm_game_masters.serve()
    async def gm_game_masters(self, conn: RpcConnection, p: GameMastersQuery) -> list[GMAccount]:
        listed = await self.game_masters.game_masters(max(1, min(p.limit, MAX_LISTED)))
        return [_account(gm) for gm in listed]

    @GMMasterCalls.gm_kick.serve()
    def gm_kick(self, conn: RpcConnection, p: KickParams) -> KickDone:
        had_session, worlds = self.moderation.kick_account(p.account_id, p.reason[:MAX_REASON],
                                                           "gm")
        return KickDone(had_session, worlds)

    @GMMasterCalls.gm_ban.serve()
    async def gm_ban(self, conn: RpcConnection, p: BanParams) -> BanInfo:
        if (p.account_id == 0) == (p.address == ""):
            raise RpcError("bad_params", "a ban names an account or an address, one of them")
        if p.duration_s is not None and not 0 < p.duration_s < 100 * 365 * 86400:
            raise RpcError("bad_params", "`duration_s`: more than 0 and less than 100 years")
        reason = p.reason[:MAX_REASON]
        if p.address:
            ban = await self.moderation.ban_network(_network(p.address), reason, p.duration_s,
                                                    _by(p.by))
        else:
            await self._one(p.account_id)
            ban = await self.moderation.ban_account(p.account_id, reason, p.duration_s,
                                                    _by(p.by))
        return ban_info(ban)

    @GMMasterCalls.gm_unban.serve()
    async def gm_unban(self, conn: RpcConnection, p: UnbanParams) -> Lifted:
        if (p.account_id == 0) == (p.address == ""):
            raise RpcError("bad_params", "an unban names an account or an address, one of them")
        if p.address:
            return Lifted(await self.moderation.unban_network(_network(p.address), _by(p.by)))
        return Lifted(await self.moderation.unban_account(p.account_id, _by(p.by)))

    @GMMasterCalls.gm_bans.serve()
    def gm_bans(self, conn: RpcConnection, p: BansQuery) -> list[BanInfo]:
        bans = self.moderation.bans.in_force()[: max(1, min(p.limit, MAX_LISTED))]
        return [ban_info(ban) for ban in bans]

    @GMMasterCalls.gm_set_role.serve()
    async def gm_set_role(self, conn: RpcConnection, p: SetRole) -> GMAccount:
        if p.role not in ROLES_SET_HERE:
            raise RpcError("forbidden", "over the GM port an account becomes a gm or a player;"
                                        " admins are made on the master's manhole")
        current = await self._one(p.account_id)
        if current.role == "admin":
            raise RpcError("forbidden", f"{current.name} is an admin; the manhole changes that")
        await self.game_masters.set_role(p.account_id, p.role)
        log.warning("account %s made %s by %s", quote(current.name), p.role, quote(_by(p.by)))
        return _account(await self._one(p.account_id))

    @GMMasterCalls.gm_set_worlds.serve()
    async def gm_set_worlds(self, conn: RpcConnection, p: SetWorlds) -> GMAccount:
        current = await self._one(p.account_id)
        if current.role != "gm":
            raise RpcError("forbidden", f"{current.name} is not a gm (only a gm is limited"
                                        " to worlds)")
        worlds = sorted({w for w in p.worlds if w})
        if len(worlds) > MAX_WORLDS or any(len(w) > 64 for w in worlds):
            raise RpcError("bad_params", f"`worlds`: at most {MAX_WORLDS} names of 64 characters")
        await self.game_masters.set_worlds(p.account_id, worlds)
        log.warning("gm %s limited to %s by %s", quote(current.name),
                    quote(", ".join(worlds) or "every world"), quote(_by(p.by)))
        return _account(await self._one(p.account_id))
