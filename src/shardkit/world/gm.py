"""A WorldServer's side of the GM calls (gm/calls.py): who plays here, notices, and its zones.

The daemon asks each of its WorldServers for ``gm_who`` and ``gm_broadcast``, and the one that
holds a character for the calls about it. What only a zone can do (a character's live state,
teleport, mute, gold and items in play) goes to the zone that holds the character through the
zone's admin port; until the WorldServer has that port (issue 11, part 2) those calls answer
``unavailable``.
"""

from __future__ import annotations

from shardkit.characters.gm_schemas import ItemsResult
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

MAX_WHO = 1000
NEEDS_ZONE = "needs the zone admin port, which this WorldServer does not have yet"


class WorldGM:
    """GM calls the daemon passes to this WorldServer (role ``daemon``)."""

    def __init__(self, players: Players, *, world: str, cluster: int) -> None:
        self.players = players
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

    def _zone_of(self, character_id: int) -> str:
        """The zone where this WorldServer's player plays ``character_id``."""
        for player in self.players:
            session = sessions.get(player)
            if session is not None and session.character_id == character_id and session.zone:
                return session.zone
        raise RpcError("not_in_game", f"character #{character_id} is not in play on"
                                      f" {self.world}/{self.cluster}")

    def _needs_zone(self, character_id: int) -> RpcError:
        zone = self._zone_of(character_id)
        return RpcError("unavailable", f"{self.world}/{self.cluster}: reaching zone '{zone}'"
                                       f" {NEEDS_ZONE}")

    @GMWorldCalls.gm_inspect_live.serve()
    def gm_inspect_live(self, conn: RpcConnection, p: CharacterAt) -> LiveCharacter:
        raise self._needs_zone(p.character_id)

    @GMWorldCalls.gm_teleport.serve()
    def gm_teleport(self, conn: RpcConnection, p: TeleportParams) -> Ok:
        raise self._needs_zone(p.character_id)

    @GMWorldCalls.gm_mute.serve()
    def gm_mute(self, conn: RpcConnection, p: MuteParams) -> Ok:
        raise self._needs_zone(p.character_id)

    @GMWorldCalls.gm_unmute.serve()
    def gm_unmute(self, conn: RpcConnection, p: CharacterAt) -> Ok:
        raise self._needs_zone(p.character_id)

    @GMWorldCalls.gm_grant_live.serve()
    def gm_grant_live(self, conn: RpcConnection, p: LiveItemChange) -> ItemsResult:
        raise self._needs_zone(p.character_id)
