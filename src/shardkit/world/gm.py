"""A WorldServer's side of the GM calls (gm/calls.py): who plays here, notices, and its zones.

The daemon asks each of its WorldServers for ``gm_who`` and ``gm_broadcast``, and the one that
holds a character for the calls about it. What only a zone can do (a character's live state,
teleport, mute, gold and items in play) goes to the zone that holds the character, through
the zone's admin methods on its link to this WorldServer (``ZoneApi``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from shardkit.characters.gm_schemas import ItemCount, ItemsResult
from shardkit.gm.calls import GMWorldCalls
from shardkit.master.notifications import Broadcast
from shardkit.wire.peers import Ok, encode_notice
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.world.gm_schemas import (
    CharacterAt,
    LiveCharacter,
    LiveItemChange,
    MuteParams,
    OnlineCharacter,
    Reached,
    TeleportParams,
    WhoQuery,
    WorldNotice,
)
from shardkit.world.players import Players
from shardkit.world.session import sessions
from shardkit.world.zones import Zones
from shardkit.zone import admin_schemas as zone
from shardkit.zone.api import ZoneApi

T = TypeVar("T")

MAX_WHO = 1000
ZONE_ANSWER_S = 10.0  # how long a GM call waits for the zone (a grant waits for its save)


def live_character(live: zone.LiveCharacter) -> LiveCharacter:
    """The zone's view of a character, as the GM calls carry it."""
    return LiveCharacter(
        live.character_id, live.name, live.zone, live.x, live.y, live.level, live.hp, live.gold,
        [ItemCount(item, count) for item, count in live.items],
        live.muted_until or None, live.mute_reason, live.max_hp, live.xp, live.dead, live.version)


def item_changes(items: list[ItemCount]) -> dict[str, int]:
    """A GM's item changes as the zone takes them: item -> count (repeats added up)."""
    changes: dict[str, int] = {}
    for change in items:
        changes[change.item] = changes.get(change.item, 0) + change.count
    return changes


class WorldGM:
    """GM calls the daemon passes to this WorldServer (role ``daemon``)."""

    def __init__(self, players: Players, zones: Zones, *, world: str, cluster: int) -> None:
        self.players = players
        self.zones = zones
        self.world = world
        self.cluster = cluster

    def online(self) -> list[OnlineCharacter]:
        """Every player logged in here, with the character it plays ("" before it enters)."""
        rows = []
        for conn in self.players:
            identity = conn.identity
            if identity is None or identity.account_id is None:
                continue
            session = sessions.get(conn)
            rows.append(OnlineCharacter(
                self.world, self.cluster, identity.account_id, identity.name,
                (session.character_id or 0) if session else 0,
                session.character if session else "", session.zone if session else "",
                conn.peer_ip))
        return rows

    @GMWorldCalls.gm_who.serve()
    def gm_who(self, conn: RpcConnection, p: WhoQuery) -> list[OnlineCharacter]:
        prefix = p.name.casefold()
        limit = max(1, min(p.limit, MAX_WHO))
        found = []
        for row in self.online():
            if p.zone and row.zone != p.zone:
                continue
            if p.account_id and row.account_id != p.account_id:
                continue
            if prefix and not (row.character.casefold().startswith(prefix)
                               or row.account.casefold().startswith(prefix)):
                continue
            found.append(row)
            if len(found) >= limit:
                break
        return found

    @GMWorldCalls.gm_broadcast.serve()
    def gm_broadcast(self, conn: RpcConnection, p: WorldNotice) -> Reached:
        data = encode_notice(Broadcast(p.text))
        reached = 0
        for player in self.players:
            player.send_encoded(data)
            reached += 1
        return Reached(reached)

    # ------------------------------------------------------ in a zone
    def _in_play(self, character_id: int) -> tuple[str, str]:
        """(zone, name) of the character this WorldServer's player plays as ``character_id``."""
        for player in self.players:
            session = sessions.get(player)
            if session is not None and session.character_id == character_id and session.zone:
                return session.zone, session.character
        raise RpcError("not_in_game", f"character #{character_id} is not in play on"
                                      f" {self.world}/{self.cluster}")

    async def _ask(self, zone_name: str, ask: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(ask, ZONE_ANSWER_S)
        except TimeoutError:
            raise RpcError("timeout", f"zone '{zone_name}' did not answer within"
                                      f" {ZONE_ANSWER_S:g} s") from None
        except RpcError as exc:
            if exc.code == "not_here":  # it left the zone since it entered: leaving, moving
                raise RpcError("not_in_game", f"the character is not in zone '{zone_name}'"
                                              " any more (leaving the game, or between zones);"
                                              " try again") from None
            raise

    def _zone(self, character_id: int) -> tuple[ZoneApi, str, str]:
        """The API of the zone that holds the character, that zone's name, the character's."""
        zone_name, name = self._in_play(character_id)
        return self.zones.api(zone_name), zone_name, name

    @GMWorldCalls.gm_inspect_live.serve()
    async def gm_inspect_live(self, conn: RpcConnection, p: CharacterAt) -> LiveCharacter:
        api, zone_name, name = self._zone(p.character_id)
        return live_character(await self._ask(zone_name, api.inspect(name)))

    @GMWorldCalls.gm_teleport.serve()
    async def gm_teleport(self, conn: RpcConnection, p: TeleportParams) -> Ok:
        api, zone_name, name = self._zone(p.character_id)
        to = p.zone or zone_name
        if to not in self.zones:
            here = ", ".join(self.zones.names)
            raise RpcError("other_server", f"zone '{to[:64]}' is not run by world server"
                           f" {self.world}/{self.cluster} (its zones: {here}); a character is"
                           f" moved only between the zones of the world server it plays on")
        if to != zone_name:
            self.zones.api(to)  # the zone it goes to must be up to take it in
        return await self._ask(zone_name, api.teleport(name, p.x, p.y,
                                                       "" if to == zone_name else to))

    @GMWorldCalls.gm_mute.serve()
    async def gm_mute(self, conn: RpcConnection, p: MuteParams) -> Ok:
        api, zone_name, name = self._zone(p.character_id)
        return await self._ask(zone_name, api.mute(name, p.until, p.reason))

    @GMWorldCalls.gm_unmute.serve()
    async def gm_unmute(self, conn: RpcConnection, p: CharacterAt) -> Ok:
        api, zone_name, name = self._zone(p.character_id)
        return await self._ask(zone_name, api.unmute(name))

    @GMWorldCalls.gm_grant_live.serve()
    async def gm_grant_live(self, conn: RpcConnection, p: LiveItemChange) -> ItemsResult:
        api, zone_name, name = self._zone(p.character_id)
        live = await self._ask(zone_name, api.grant(
            zone.GrantCharacter(name, p.gold, item_changes(p.items))))
        return ItemsResult(self.world, live.name, live.gold,
                           [ItemCount(item, count) for item, count in live.items], live.version)
