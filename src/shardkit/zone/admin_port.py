"""A zone's administration, for its WorldServer (its console, and game masters through it).

Served on the zone's link to its WorldServer, for role ``world`` only. Characters are named
by name in any case and must be in this zone (``not_here`` otherwise). What changes a
character (mute, gold and items, a move to another zone) is saved through the usual save.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable

from shardkit.content import Content
from shardkit.runtime.tasks import background
from shardkit.wire.peers import Ok, encode_notice, notify
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.wire.text import clean_text
from shardkit.zone.admin_schemas import (
    CharacterNamed,
    GrantCharacter,
    LiveCharacter,
    MuteCharacter,
    SpawnedNpc,
    SpawnNpc,
    TeleportCharacter,
    ZoneNotice,
    ZonePlayer,
    ZoneStatus,
)
from shardkit.zone.entities import FLAG_DEAD
from shardkit.zone.notifications import Broadcast, Inventory, Muted
from shardkit.zone.progress import item_counts
from shardkit.zone.roster import Player, Roster
from shardkit.zone.ticker import Ticker

WORLD_ONLY = ("world",)
MAX_NOTICE = 512  # characters of a broadcast notice
MAX_GOLD = 2**31 - 1  # what a character may hold, of gold and of one item
TELEPORT_PORTAL = "teleport"  # the portal a character moved to another zone is told it took


class ZoneAdmin:
    """Who is here and what they have; mute, move, reward, tell everyone, add NPCs."""

    def __init__(self, roster: Roster, ticker: Ticker, content: Content, *,
                 zones_here: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        self.roster = roster
        self.sim = roster.sim
        self.ticker = ticker
        self.content = content
        self.zones_here = frozenset(zones_here) | {roster.zone}  # those of our WorldServer
        self.clock = clock

    def _here(self, name: str) -> Player:
        player = self.roster.named(name)
        if player is None:
            raise RpcError("not_here", f"no character called {name[:64]!r} in this zone")
        return player

    def live(self, player: Player) -> LiveCharacter:
        sim, table = self.sim, self.sim.table
        slot = table.slot_of[player.eid]
        state = sim.players[player.eid]
        muted = player.muted_until if player.muted_until > self.clock() else 0.0
        return LiveCharacter(
            player.account_id, player.character_id, player.name, self.roster.zone, player.eid,
            float(table.x[slot]), float(table.y[slot]), int(table.level[slot]), state.xp,
            int(table.hp[slot]), int(table.max_hp[slot]), bool(table.flags[slot] & FLAG_DEAD),
            state.gold, item_counts(state.items), muted, player.mute_reason if muted else "",
            state.strikes, player.state.version)

    @rpc("status", roles=WORLD_ONLY)
    def status(self, conn: RpcConnection) -> ZoneStatus:
        """The zone's population and its recent tick times."""
        p50, p99 = self.ticker.percentiles_ms()
        return ZoneStatus(self.roster.zone, len(self.roster), len(self.sim.npc_of), self.sim.tick,
                          self.sim.tick_hz, round(p50, 3), round(p99, 3), self.ticker.late_ticks)

    @rpc("players", roles=WORLD_ONLY)
    def players(self, conn: RpcConnection) -> list[ZonePlayer]:
        """Everyone in the zone: account, character, position, level and health."""
        table = self.sim.table
        rows = []
        for player in self.roster.players.values():
            slot = table.slot_of[player.eid]
            rows.append(ZonePlayer(
                player.account_id, player.character_id, player.name, float(table.x[slot]),
                float(table.y[slot]), int(table.level[slot]), int(table.hp[slot]),
                int(table.max_hp[slot])))
        return sorted(rows, key=lambda r: r.name.casefold())

    @rpc("inspect", CharacterNamed, roles=WORLD_ONLY)
    def inspect(self, conn: RpcConnection, p: CharacterNamed) -> LiveCharacter:
        """One character's live state."""
        return self.live(self._here(p.character))

    @rpc("mute", MuteCharacter, roles=WORLD_ONLY)
    def mute(self, conn: RpcConnection, p: MuteCharacter) -> Ok:
        """Drop the character's chat until a time (it is told, told again when it talks, and
        told when the mute runs out while it is still here)."""
        player = self._here(p.character)
        now = self.clock()
        if not (math.isfinite(p.until) and p.until > now):
            raise RpcError("bad_params", "`until`: a Unix time in the future")
        player.muted_until, player.mute_reason = p.until, clean_text(p.reason, 200)
        notify(player.conn, Muted(player.muted_until, player.mute_reason))
        self._tell_when_over(player, p.until - now)
        background(self.roster.save(player))  # a mute outlives a relog
        return Ok()

    def restore_mute(self, player: Player) -> None:
        """A player entering with a mute still running (saved on its character) is told so,
        right after its ``zone_login`` answer, and told again when the mute runs out."""
        left = player.muted_until - self.clock()
        if left <= 0:
            return
        asyncio.get_running_loop().call_soon(
            notify, player.conn, Muted(player.muted_until, player.mute_reason))
        self._tell_when_over(player, left)

    def _tell_when_over(self, player: Player, seconds: float) -> None:
        asyncio.get_running_loop().call_later(seconds, self._mute_ran_out, player,
                                              player.muted_until)

    def _mute_ran_out(self, player: Player, until: float) -> None:
        """Tell a player its mute is over (unless it was lifted, changed, or it left)."""
        if player.muted_until != until or self.roster.players.get(player.eid) is not player:
            return
        early = until - self.clock()
        if early > 0:  # the loop's timers may fire a millisecond early (uvloop counts in ms)
            self._tell_when_over(player, early)
            return
        player.muted_until, player.mute_reason = 0.0, ""
        notify(player.conn, Muted(0.0, ""))

    @rpc("unmute", CharacterNamed, roles=WORLD_ONLY)
    def unmute(self, conn: RpcConnection, p: CharacterNamed) -> Ok:
        """Let the character chat again."""
        player = self._here(p.character)
        was_muted = player.muted_until > self.clock()
        player.muted_until, player.mute_reason = 0.0, ""
        if was_muted:
            notify(player.conn, Muted(0.0, ""))
        background(self.roster.save(player))
        return Ok(was_muted)

    @rpc("teleport", TeleportCharacter, roles=WORLD_ONLY)
    async def teleport(self, conn: RpcConnection, p: TeleportCharacter) -> Ok:
        """Put the character at a point of this zone (its view follows at once), or of another
        zone of this WorldServer: saved there, it is told ``portal`` and its client enters
        again over there."""
        player = self._here(p.character)
        zone = p.zone or self.roster.zone
        if zone not in self.zones_here:
            raise RpcError("other_server", f"zone {zone[:64]!r} is not one of this WorldServer's"
                           f" zones ({', '.join(sorted(self.zones_here))})")
        width, height = (self.sim.width, self.sim.height) if zone == self.roster.zone else (
            self.content.zone(zone).width, self.content.zone(zone).height)
        if not (math.isfinite(p.x) and math.isfinite(p.y) and 0 <= p.x <= width
                and 0 <= p.y <= height):
            raise RpcError("out_of_bounds", f"({p.x}, {p.y}) is not in zone {zone}"
                           f" (0..{width:g} x 0..{height:g})")
        if zone == self.roster.zone:
            self.sim.teleport(player.eid, p.x, p.y)
            background(self.roster.save(player))  # a relog, or a crash, finds it there
            return Ok()
        if not await self.roster.through_portal(player, TELEPORT_PORTAL, zone, p.x, p.y):
            raise RpcError("not_saved", f"{player.name} could not be saved in {zone}; it stays"
                                        " where it was, or has left the game")
        return Ok()

    @rpc("grant", GrantCharacter, roles=WORLD_ONLY)
    async def grant(self, conn: RpcConnection, p: GrantCharacter) -> LiveCharacter:
        """Give (or take, negative) gold and items; refused whole if any would go below 0
        (``not_enough``); answered once the change is saved."""
        player = self._here(p.character)
        state = self.sim.players[player.eid]
        unknown = sorted(item for item in p.items if item not in self.content.items)
        if unknown:
            raise RpcError("no_such_item", f"no item {unknown[0][:64]!r} in the content")
        gold = state.gold + p.gold
        items = dict(state.items)
        for item, count in p.items.items():
            items[item] = items.get(item, 0) + count
        if gold < 0:
            raise RpcError("not_enough", f"{player.name} has {state.gold} gold; cannot take"
                                         f" {-p.gold}")
        for item, count in sorted(items.items()):
            if count < 0:
                raise RpcError("not_enough", f"{player.name} has {state.items.get(item, 0)}"
                                             f" {item}; cannot take {-p.items.get(item, 0)}")
        if gold > MAX_GOLD or any(count > MAX_GOLD for count in items.values()):
            raise RpcError("too_much", f"at most {MAX_GOLD} gold or of one item")
        state.gold = gold
        state.items = {item: count for item, count in items.items() if count}
        player.queue(encode_notice(Inventory(state.gold, item_counts(state.items))))
        live = self.live(player)
        if not await self.roster.save(player):  # answered once it is saved, at its new version
            raise RpcError("not_saved", f"{player.name}'s gold and items were changed in play but"
                                        " the save was not acknowledged: inspect it before"
                                        " trying again")
        live.version = player.state.version
        return live

    @rpc("broadcast", ZoneNotice, roles=WORLD_ONLY)
    def broadcast(self, conn: RpcConnection, p: ZoneNotice) -> Ok:
        """A notice from the administrators to everyone in the zone."""
        text = clean_text(p.text, MAX_NOTICE)
        if text:
            self.roster.queue_all(encode_notice(Broadcast(text)))
        return Ok()

    @rpc("spawn_npc", SpawnNpc, roles=WORLD_ONLY)
    def spawn_npc(self, conn: RpcConnection, p: SpawnNpc) -> SpawnedNpc:
        """An extra NPC of a content kind, at home at (x, y); it respawns there after dying."""
        kind = self.content.npcs.get(p.kind)
        if kind is None:
            raise RpcError("no_such_kind", f"no NPC kind {p.kind[:64]!r} in the content")
        if not (math.isfinite(p.x) and math.isfinite(p.y) and 0 <= p.x <= self.sim.width
                and 0 <= p.y <= self.sim.height):
            raise RpcError("out_of_bounds", f"({p.x}, {p.y}) is not in this zone")
        return SpawnedNpc(self.sim.spawn_npc(p.kind, kind, p.x, p.y))
