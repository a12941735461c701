"""GM commands about players: who is online, inspect a character, kick, broadcast a notice.

Each runs as an audited action (gm/actions.py) in the worlds the game master may act in.
"""

from __future__ import annotations

import asyncio

from shardkit.gm.access import Caller
from shardkit.gm.actions import Actions, clip
from shardkit.gm.calls import GMMasterCalls, GMWorldCalls
from shardkit.gm.schemas import (
    BroadcastCommand,
    BroadcastReport,
    CharacterReport,
    CharacterTarget,
    KickCommand,
    KickReport,
    NamePrefix,
    WhoParams,
    WhoResult,
)
from shardkit.gm.targets import Targets, label
from shardkit.master.gm_schemas import KickParams
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.wire.text import clean_text
from shardkit.world.gm_schemas import CharacterAt, OnlineCharacter, WorldNotice

GM = ("gm",)
MAX_REASON = 200
MAX_NOTICE = 400
MAX_NAMES = 100


def online_label(who: OnlineCharacter) -> str:
    """``World/Character`` for a character in play, ``account:Name`` for a player choosing one."""
    return label(who.world, who.character) if who.character else f"account:{who.account}"


class PlayerCommands:
    """``who``, ``complete_names``, ``inspect``, ``kick`` and ``broadcast`` on the GM port."""

    def __init__(self, actions: Actions, targets: Targets) -> None:
        self.actions = actions
        self.targets = targets

    @rpc("who", WhoParams, roles=GM)
    async def who(self, conn: RpcConnection, p: WhoParams) -> WhoResult:
        """Who is online, in one world or every world the game master may act in."""
        async with self.actions.run(conn, "who", f"world:{p.world}" if p.world else "*") as act:
            result = await self.targets.who(act.caller, world=p.world, zone=p.zone, name=p.name,
                                            limit=p.limit)
            act.detail.update(zone=p.zone, name=clip(p.name), found=len(result.characters))
            return result

    @rpc("complete_names", NamePrefix, roles=GM)
    async def complete_names(self, conn: RpcConnection, p: NamePrefix) -> list[str]:
        """Names of characters in play that start with a prefix, for a console's completion."""
        caller = await self.actions.caller(conn, "complete_names")
        result = await self.targets.who(caller, name=p.prefix, limit=MAX_NAMES)
        names = sorted({c.character for c in result.characters if c.character})
        return names[: max(1, min(p.limit, MAX_NAMES))]

    @rpc("inspect", CharacterTarget, roles=GM)
    async def inspect(self, conn: RpcConnection, p: CharacterTarget) -> CharacterReport:
        """A character as stored (online or not), its account, and where it plays now."""
        async with self.actions.run(conn, "inspect", p.name) as act:
            stored = await self.targets.stored(act.caller, p.name, p.world)
            act.target = label(stored.world, stored.name)
            account = await self.targets.account(stored.account_id)
            report = CharacterReport(stored, account.name, account.role)
            if stored.in_play:
                await self._live(act.caller, report)
            act.detail.update(in_play=stored.in_play, account=account.name)
            return report

    async def _live(self, caller: Caller, report: CharacterReport) -> None:
        stored = report.stored
        try:
            online = await self.targets.online(caller, stored.name, stored.world)
            report.online = online
            report.live = await GMWorldCalls.gm_inspect_live.send(
                self.targets.peer, CharacterAt(online.world, online.cluster, online.character_id))
        except RpcError as exc:
            report.live_error = exc.message

    @rpc("kick", KickCommand, roles=GM)
    async def kick(self, conn: RpcConnection, p: KickCommand) -> KickReport:
        """Put a player out of the game everywhere, with a reason it is shown."""
        async with self.actions.run(conn, "kick", p.name) as act:
            who = await self.targets.online(act.caller, p.name, p.world)
            act.target = online_label(who)
            await self.targets.require_not_admin(act.caller, who.account_id, act.target)
            reason = clean_text(p.reason, MAX_REASON) or "kicked by a game master"
            done = await GMMasterCalls.gm_kick.send(self.targets.peer,
                                                    KickParams(who.account_id, reason))
            act.detail.update(account=who.account, reason=reason, worlds=done.worlds)
            return KickReport(who.world, who.account, who.character, done.had_session,
                              done.worlds)

    @rpc("broadcast", BroadcastCommand, roles=GM)
    async def broadcast(self, conn: RpcConnection, p: BroadcastCommand) -> BroadcastReport:
        """A notice to every player of one world, or of every world."""
        async with self.actions.run(conn, "broadcast",
                                    f"world:{p.world}" if p.world else "*") as act:
            text = clean_text(p.text, MAX_NOTICE)
            act.detail["text"] = clip(text)
            if not text:
                raise RpcError("bad_params", "`text`: nothing to send")
            if not p.world:
                act.caller.require_every_world("a broadcast to every world")
            worlds = await self.targets.worlds(act.caller, p.world)
            answers = await asyncio.gather(
                *(GMWorldCalls.gm_broadcast.send(self.targets.peer, WorldNotice(w, -1, text))
                  for w in worlds),
                return_exceptions=True)
            reached = [(w, a) for w, a in zip(worlds, answers, strict=True)
                       if not isinstance(a, BaseException)]
            players = sum(a.players for _, a in reached)
            unreachable = sorted(set(worlds) - {w for w, _ in reached})
            act.detail.update(players=players, unreachable=unreachable)
            return BroadcastReport([w for w, _ in reached], players, unreachable)
