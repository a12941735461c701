"""GM commands that act in a zone: teleport, go to a character, summon one, mute and unmute.

Each finds the character in play (``gm_who``), then sends the call to the WorldServer that
holds it (through the character server and the world's daemon), which passes it to the
zone's admin methods. A gm may not move or mute an admin's character. A ``name`` of ""
means the game master's own character, when it plays one (``teleport``, ``teleport_to``).
"""

from __future__ import annotations

import time

from shardkit.gm.actions import Action, Actions
from shardkit.gm.calls import GMWorldCalls
from shardkit.gm.schemas import (
    CharacterTarget,
    MuteCommand,
    TeleportCommand,
    TeleportToCommand,
)
from shardkit.gm.targets import Targets, label
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.wire.text import clean_text
from shardkit.world.gm_schemas import CharacterAt, MuteParams, OnlineCharacter, TeleportParams

GM = ("gm",)
MAX_MUTE_S = 365 * 86400.0
MAX_REASON = 200


def _at(who: OnlineCharacter) -> CharacterAt:
    return CharacterAt(who.world, who.cluster, who.character_id)


class ZoneCommands:
    """``teleport``, ``teleport_to``, ``goto``, ``summon``, ``mute`` and ``unmute``."""

    def __init__(self, actions: Actions, targets: Targets) -> None:
        self.actions = actions
        self.targets = targets

    async def _in_play(self, act: Action, name: str, world: str) -> OnlineCharacter:
        """The character in play the action is on (""; the caller's own); not an admin's, for
        a gm."""
        if not name:
            me = await self.targets.own_character(act.caller)
            act.target = label(me.world, me.character)
            return me
        who = await self.targets.online(act.caller, name, world)
        if not who.character_id:
            raise RpcError("not_in_game", f"{who.account} has no character in play")
        act.target = label(who.world, who.character)
        await self.targets.require_not_admin(act.caller, who.account_id, act.target)
        return who

    async def _move(self, act: Action, mover: OnlineCharacter, to: OnlineCharacter) -> Ok:
        """Move ``mover`` to where ``to`` stands now (both in play in one world)."""
        if mover.world != to.world:
            raise RpcError("other_world", f"{mover.character} is in {mover.world} and"
                                          f" {to.character} in {to.world}")
        if mover.cluster != to.cluster:
            raise RpcError("other_server", f"{mover.character} plays on world server"
                           f" {mover.world}/{mover.cluster} and {to.character} on"
                           f" {to.world}/{to.cluster}; a character is moved only between the"
                           f" zones of the world server it plays on")
        peer = self.targets.peer
        where = await GMWorldCalls.gm_inspect_live.send(peer, _at(to))
        act.detail.update(to=label(to.world, to.character), zone=where.zone, x=where.x,
                          y=where.y)
        return await GMWorldCalls.gm_teleport.send(peer, TeleportParams(
            mover.world, mover.cluster, mover.character_id, where.zone, where.x, where.y))

    @rpc("teleport", TeleportCommand, roles=GM)
    async def teleport(self, conn: RpcConnection, p: TeleportCommand) -> Ok:
        """Move a character in play (or the game master's own) to a point of its zone ("")
        or of another zone of its WorldServer."""
        async with self.actions.run(conn, "teleport", p.name) as act:
            who = await self._in_play(act, p.name, p.world)
            act.detail.update(zone=p.zone, x=p.x, y=p.y)
            return await GMWorldCalls.gm_teleport.send(self.targets.peer, TeleportParams(
                who.world, who.cluster, who.character_id, p.zone, p.x, p.y))

    @rpc("teleport_to", TeleportToCommand, roles=GM)
    async def teleport_to(self, conn: RpcConnection, p: TeleportToCommand) -> Ok:
        """Move a character in play (or the game master's own) to where another one stands."""
        async with self.actions.run(conn, "teleport_to", p.name) as act:
            mover = await self._in_play(act, p.name, p.world)
            to = await self.targets.online(act.caller, p.to, mover.world)
            return await self._move(act, mover, to)

    @rpc("goto", CharacterTarget, roles=GM)
    async def goto(self, conn: RpcConnection, p: CharacterTarget) -> Ok:
        """Move the game master's own character to where a character stands."""
        async with self.actions.run(conn, "goto", p.name) as act:
            me = await self.targets.own_character(act.caller)
            to = await self.targets.online(act.caller, p.name, p.world or me.world)
            act.target = label(to.world, to.character)
            return await self._move(act, me, to)

    @rpc("summon", CharacterTarget, roles=GM)
    async def summon(self, conn: RpcConnection, p: CharacterTarget) -> Ok:
        """Move a character in play to where the game master's own character stands."""
        async with self.actions.run(conn, "summon", p.name) as act:
            mover = await self._in_play(act, p.name, p.world)
            me = await self.targets.own_character(act.caller)
            return await self._move(act, mover, me)

    @rpc("mute", MuteCommand, roles=GM)
    async def mute(self, conn: RpcConnection, p: MuteCommand) -> Ok:
        """Drop a character's chat for a while (its zone tells it why)."""
        async with self.actions.run(conn, "mute", p.name) as act:
            if not 0 < p.duration_s <= MAX_MUTE_S:
                raise RpcError("bad_params", "`duration_s`: more than 0 and at most a year")
            who = await self._in_play(act, p.name, p.world)
            reason = clean_text(p.reason, MAX_REASON)
            act.detail.update(duration_s=p.duration_s, reason=reason)
            return await GMWorldCalls.gm_mute.send(self.targets.peer, MuteParams(
                who.world, who.cluster, who.character_id, time.time() + p.duration_s, reason))

    @rpc("unmute", CharacterTarget, roles=GM)
    async def unmute(self, conn: RpcConnection, p: CharacterTarget) -> Ok:
        """Let a muted character chat again."""
        async with self.actions.run(conn, "unmute", p.name) as act:
            who = await self._in_play(act, p.name, p.world)
            return await GMWorldCalls.gm_unmute.send(self.targets.peer, _at(who))
