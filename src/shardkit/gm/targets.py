"""Finding what a GM command is about: who is online where, a stored character, an account.

Everything is looked up through the character server's link: online players from the
WorldServers (``gm_who``, per world), stored characters from the character store, accounts
from the master. Only worlds the game master may act in are searched or listed; a character
found only elsewhere is refused with the reason.
"""

from __future__ import annotations

import asyncio
import logging

from shardkit.characters.api import CharactersGMApi
from shardkit.characters.gm_schemas import StoredCharacter
from shardkit.gm.access import Caller
from shardkit.gm.calls import GMMasterCalls, GMWorldCalls
from shardkit.gm.schemas import WhoResult
from shardkit.master.gm_schemas import AccountIds, AccountQuery, GMAccount
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import Peer
from shardkit.wire.rpc import RpcError
from shardkit.world.gm_schemas import OnlineCharacter, WhoQuery

log = logging.getLogger("shardkit.gm")

MAX_WHO = 1000


def split_name(name: str, world: str) -> tuple[str, str]:
    """``World/Name`` as (world, name); a plain name keeps the ``world`` given."""
    if "/" in name:
        head, _, tail = name.partition("/")
        return head, tail
    return world, name


def label(world: str, name: str) -> str:
    """How the audit log names a character: ``World/Name``."""
    return f"{world}/{name}"


def _named(result: WhoResult, name: str) -> list[OnlineCharacter]:
    """The characters in play called ``name``; if none, the accounts called so."""
    wanted = name.casefold()
    matches = [c for c in result.characters if c.character.casefold() == wanted]
    return matches or [c for c in result.characters if c.account.casefold() == wanted]


class Targets:
    """Lookups for GM commands, over the character server's link (``peer``)."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.stored_characters = CharactersGMApi(peer)

    # ------------------------------------------------------------- accounts
    async def account(self, account_id: int = 0, name: str = "") -> GMAccount:
        return await GMMasterCalls.gm_account.send(self.peer, AccountQuery(account_id, name))

    async def roles(self, account_ids: list[int]) -> dict[int, str]:
        found = await GMMasterCalls.gm_accounts.send(self.peer, AccountIds(account_ids))
        return {account.account_id: account.role for account in found}

    async def require_not_admin(self, caller: Caller, account_id: int, what: str) -> None:
        """Refuse a gm's action on an admin's account or character."""
        if caller.role != "admin":
            caller.require_not_admin((await self.roles([account_id])).get(account_id, ""), what)

    # --------------------------------------------------------------- online
    async def worlds(self, caller: Caller, world: str = "") -> list[str]:
        """The worlds to search: ``world`` (if the caller may act there), or every linked world
        the caller may act in."""
        if world:
            caller.require_world(world)
            return [world]
        return caller.reachable(await self.stored_characters.gm_worlds())

    async def who(self, caller: Caller, *, world: str = "", zone: str = "", name: str = "",
                  account_id: int = 0, limit: int = 200) -> WhoResult:
        """Who plays in the worlds the caller may act in (or ``world``), filtered."""
        worlds = await self.worlds(caller, world)
        return await self._who_in(worlds, zone=zone, name=name, account_id=account_id,
                                  limit=limit)

    async def _who_in(self, worlds: list[str], *, zone: str = "", name: str = "",
                      account_id: int = 0, limit: int = 200) -> WhoResult:
        limit = max(1, min(limit, MAX_WHO))
        answers = await asyncio.gather(
            *(GMWorldCalls.gm_who.send(self.peer, WhoQuery(w, -1, zone, name, account_id, limit))
              for w in worlds),
            return_exceptions=True)
        found: list[OnlineCharacter] = []
        unreachable = []
        for w, answer in zip(worlds, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("world %s did not answer who: %s", quote(w),
                            quote(getattr(answer, "message", type(answer).__name__)))
                unreachable.append(w)
                continue
            found.extend(answer)
        return WhoResult(found[:limit], unreachable)

    async def online(self, caller: Caller, name: str, world: str = "") -> OnlineCharacter:
        """The one character in play (or else the one account logged in to a world) called
        ``name``, in ``world`` or any world the caller may act in."""
        world, name = split_name(name, world)
        matches = _named(await self.who(caller, world=world, name=name), name)
        if not matches and caller.limited and not world:  # elsewhere? then say so
            elsewhere = _named(await self._who_in(await self.stored_characters.gm_worlds(),
                                                  name=name), name)
            for found in elsewhere:
                caller.require_world(found.world, label(found.world, found.character or name))
        if not matches:
            where = world or "any world"
            raise RpcError("not_online", f"nobody called '{name[:64]}' is online in {where}")
        if len(matches) > 1:
            places = ", ".join(sorted({c.world for c in matches}))
            raise RpcError("ambiguous", f"'{name[:64]}' is online in {places}: name the world"
                                        f" (World/{name[:64]})")
        return matches[0]

    async def own_character(self, caller: Caller) -> OnlineCharacter:
        """The character the game master itself plays now."""
        result = await self.who(caller, account_id=caller.account_id)
        playing = [c for c in result.characters if c.character_id]
        if not playing:
            raise RpcError("not_in_game", f"{caller.name} has no character in play")
        return playing[0]

    # --------------------------------------------------------------- stored
    async def stored(self, caller: Caller, name: str, world: str = "") -> StoredCharacter:
        """The one stored character called ``name`` in ``world``, or in any world the caller
        may act in; refused if the only ones are in other worlds."""
        world, name = split_name(name, world)
        found = await self.stored_characters.gm_characters(name, world)
        if not found:
            raise RpcError("no_such_character",
                           f"no character '{name[:64]}'" + (f" in {world}" if world else ""))
        mine = [c for c in found if caller.may_reach(c.world)]
        if not mine:
            caller.require_world(found[0].world, label(found[0].world, found[0].name))
        if len(mine) > 1:
            places = ", ".join(c.world for c in mine)
            raise RpcError("ambiguous", f"'{name[:64]}' is a character in {places}: name the"
                                        f" world (World/{name[:64]})")
        return mine[0]
