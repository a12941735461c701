"""The zone's game rules per tick: authoritative movement, NPCs, combat, respawns and portals.

Pure logic, no I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import msgspec
import numpy as np

from shardkit.content import Area, Content, NpcKindDef, PlayerRules, ZoneDef
from shardkit.zone import actors
from shardkit.zone.combat import Combat
from shardkit.zone.entities import FLAG_DEAD, KIND_NPC, KIND_PLAYER, EntityTable
from shardkit.zone.events import Correction, Event, PortalEntered, Respawned
from shardkit.zone.npc import NpcBrains
from shardkit.zone.spatial import free_point

#: A claimed position farther than this many seconds of walking from the server's is corrected.
CLAIM_TOLERANCE_S = 0.5
CLAIM_TOLERANCE_MIN = 2.0  # units; absorbs rounding and one tick of latency at low speeds


class PlayerProgress(msgspec.Struct, frozen=True):
    """What the character server keeps of a player in this zone (the server layer saves it)."""

    x: float
    y: float
    level: int
    xp: int
    hp: int
    gold: int
    items: dict[str, int]


class Entity:
    """A handle on a player in the simulation; position and state live in the simulation's table.

    Before ``Simulation.add`` it only carries the start position; afterwards ``x``, ``y`` and
    ``moved`` read the table.
    """

    __slots__ = ("_sim", "_x", "_y", "id", "name", "slot")

    def __init__(self, entity_id: int, name: str, x: float, y: float) -> None:
        self.id = entity_id
        self.name = name
        self._x, self._y = x, y
        self._sim: Simulation | None = None
        self.slot = -1

    @property
    def x(self) -> float:
        return float(self._sim.table.x[self.slot]) if self._sim is not None else self._x

    @property
    def y(self) -> float:
        return float(self._sim.table.y[self.slot]) if self._sim is not None else self._y

    @property
    def moved(self) -> bool:
        """True if the position changed in the last step."""
        sim = self._sim
        return sim is not None and int(sim.table.pos_tick[self.slot]) == sim.tick


class Simulation:
    """One zone's world: players and NPCs in a columnar table, advanced one tick per ``step``.

    Pure and deterministic: time is the tick count (``tick_hz`` ticks per second), randomness
    comes from the injected ``rng``; the same inputs and seed give the same events. Players
    send intents (``set_input``), attacks (``attack``) and optionally position claims
    (``claim_position``); ``step`` returns the events of the tick.
    """

    def __init__(
        self, *, width: float = 1000.0, height: float = 1000.0, speed: float | None = None,
        view_radius: float = 60.0, tick_hz: float = 10.0, zone: ZoneDef | None = None,
        content: Content | None = None, rng: random.Random | None = None,
    ) -> None:
        self.zone = zone if zone is not None else ZoneDef(width=width, height=height)
        self.width = self.zone.width
        self.height = self.zone.height
        self.rules: PlayerRules = content.players if content is not None else PlayerRules()
        if speed is not None:
            self.rules = msgspec.structs.replace(self.rules, speed=speed)
        self.view_radius = view_radius
        self.tick_hz = tick_hz
        self.dt = 1.0 / tick_hz
        self.rng = rng if rng is not None else random.Random()
        self.pvp = self.zone.pvp
        self.loot_tables = content.loot if content is not None else {}
        self.table = EntityTable()
        self.tick = 0
        self.players: dict[int, actors.PlayerState] = {}
        self.handles: dict[int, Entity] = {}
        self.npcs: list[actors.NpcState] = []
        self.npc_of: dict[int, actors.NpcState] = {}
        self.respawns: dict[int, int] = {}  # dead player -> tick it comes back
        self.events: list[Event] = []
        #: Events viewers see in their sync message: (type, source, target, value, slot).
        self.visible: list[tuple[int, int, int, int, int]] = []
        self.combat = Combat(self)
        self.brains = NpcBrains(self)
        self._next_id = 1
        self._portal_areas = [p.area for p in self.zone.portals]
        if content is not None:
            for spawn in self.zone.npcs:
                kind = content.npcs[spawn.kind]
                for _ in range(spawn.count):
                    npc = actors.NpcState(len(self.npcs), spawn.kind, kind, spawn.area)
                    self.npcs.append(npc)
                    self._spawn_npc(npc)

    @classmethod
    def for_zone(cls, content: Content, zone: str, *, view_radius: float = 60.0,
                 tick_hz: float = 10.0, rng: random.Random | None = None) -> Simulation:
        return cls(zone=content.zone(zone), content=content, view_radius=view_radius,
                   tick_hz=tick_hz, rng=rng)

    @property
    def speed(self) -> float:
        return self.rules.speed

    def ticks(self, seconds: float) -> int:
        """A duration in whole ticks (at least one)."""
        return max(1, round(seconds * self.tick_hz))

    def new_id(self) -> int:
        eid = self._next_id
        self._next_id += 1
        return eid

    # ------------------------------------------------------------------ players
    def add_player(
        self, name: str, *, x: float | None = None, y: float | None = None, level: int = 1,
        xp: int = 0, hp: int | None = None, gold: int = 0, items: dict[str, int] | None = None,
        eid: int | None = None,
    ) -> int:
        """Put a player in the zone; without a position it appears at a free spawn point."""
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            x, y = self.free_spawn_point()
        x = min(max(x, 0.0), self.width)
        y = min(max(y, 0.0), self.height)
        if eid is None:
            eid = self.new_id()
        self._next_id = max(self._next_id, eid + 1)
        level = max(1, min(level, len(self.rules.level_xp) + 1))
        max_hp = self.rules.max_hp(level)
        hp = max_hp if hp is None or hp <= 0 else min(hp, max_hp)
        slot = self.table.add(eid, KIND_PLAYER, name, x, y, speed=self.rules.speed, hp=hp,
                              max_hp=max_hp, level=level, tick=self.tick)
        state = actors.PlayerState(eid, name, xp=max(0, xp), gold=max(0, gold),
                                   items=dict(items or {}))
        self.table.portal[slot] = self._portal_at(x, y)  # standing in one on arrival is no entry
        self.players[eid] = state
        handle = Entity(eid, name, x, y)
        handle._sim, handle.slot = self, slot
        self.handles[eid] = handle
        return eid

    def add(self, entity: Entity) -> None:
        """Add a player by handle (its id chosen by the caller)."""
        self.add_player(entity.name, x=entity._x, y=entity._y, eid=entity.id)
        entity._sim, entity.slot = self, self.table.slot_of[entity.id]
        self.handles[entity.id] = entity

    def remove(self, entity_id: int) -> Entity | None:
        """Take a player out of the zone; its handle (position as it left) is returned."""
        handle = self.handles.pop(entity_id, None)
        if handle is not None:
            handle._x, handle._y = handle.x, handle.y
            handle._sim = None
        self.players.pop(entity_id, None)
        self.respawns.pop(entity_id, None)
        self.table.remove(entity_id)
        return handle

    def free_spawn_point(self) -> tuple[float, float]:
        table = self.table
        live = table.live_slots()
        return free_point(self.zone.spawn_rect, self.rng, table.x[live], table.y[live])

    def progress(self, entity_id: int) -> PlayerProgress:
        """The player's state to save."""
        table, state = self.table, self.players[entity_id]
        slot = table.slot_of[entity_id]
        return PlayerProgress(float(table.x[slot]), float(table.y[slot]), int(table.level[slot]),
                              state.xp, int(table.hp[slot]), state.gold, dict(state.items))

    def set_input(self, entity_id: int, dx: float, dy: float) -> None:
        """The direction a player wants to walk in; longer than 1 is scaled to 1."""
        slot = self.table.slot_of.get(entity_id)
        if slot is None or entity_id not in self.players or not (
                math.isfinite(dx) and math.isfinite(dy)):
            return
        if self.table.flags[slot] & FLAG_DEAD:
            return
        length = math.hypot(dx, dy)
        if length > 1.0:
            dx, dy = dx / length, dy / length
        self.table.dx[slot], self.table.dy[slot] = dx, dy

    def claim_position(self, entity_id: int, x: float, y: float) -> Correction | None:
        """Check where a client says its player is; beyond tolerance it gets corrected.

        The server's position stays authoritative either way; a Correction (also among the
        next step's events) tells the client where it really is and counts the strike.
        """
        state = self.players.get(entity_id)
        if state is None:
            return None
        slot = self.table.slot_of[entity_id]
        sx, sy = float(self.table.x[slot]), float(self.table.y[slot])
        tolerance = max(CLAIM_TOLERANCE_MIN, self.rules.speed * CLAIM_TOLERANCE_S)
        if math.isfinite(x) and math.isfinite(y) and math.hypot(x - sx, y - sy) <= tolerance:
            return None
        state.strikes += 1
        correction = Correction(entity_id, sx, sy, x, y, state.strikes)
        self.events.append(correction)
        self.table.jump_tick[slot] = self.tick + 1  # its own view is re-centred next tick
        self.table.pos_tick[slot] = self.tick + 1  # and its position re-sent to everyone
        return correction

    def attack(self, entity_id: int, target_id: int) -> None:
        """Queue a player's attack; resolved (or refused, with a reason) in the next step."""
        if entity_id in self.players:
            self.combat.player_attack(entity_id, target_id)

    def teleport(self, entity_id: int, x: float, y: float) -> bool:
        slot = self.table.slot_of.get(entity_id)
        if slot is None or not (math.isfinite(x) and math.isfinite(y)):
            return False
        self.table.x[slot] = min(max(x, 0.0), self.width)
        self.table.y[slot] = min(max(y, 0.0), self.height)
        self.table.pos_tick[slot] = self.table.jump_tick[slot] = self.tick + 1
        return True

    def spawn_npc(self, kind_name: str, kind: NpcKindDef, x: float, y: float) -> int:
        """An extra NPC of ``kind`` with its home at (x, y) (a console command); returns its id."""
        area = Area(min(max(x, 0.0), self.width), min(max(y, 0.0), self.height), 0.0, 0.0)
        npc = actors.NpcState(len(self.npcs), kind_name, kind, area)
        self.npcs.append(npc)
        self._spawn_npc(npc)
        return npc.eid

    # ------------------------------------------------------------------ queries
    def position(self, entity_id: int) -> tuple[float, float] | None:
        slot = self.table.slot_of.get(entity_id)
        return None if slot is None else (float(self.table.x[slot]), float(self.table.y[slot]))

    def players_near(self, entity_id: int, radius: float) -> list[int]:
        """Ids of the players within ``radius`` of an entity (itself included): who hears `say`."""
        table = self.table
        slot = table.slot_of.get(entity_id)
        if slot is None:
            return []
        live = table.live_slots()
        live = live[table.kind[live] == KIND_PLAYER]
        near = np.hypot(table.x[live] - table.x[slot], table.y[live] - table.y[slot]) <= radius
        return [int(eid) for eid in table.eid[live[near]]]

    def visible_to(self, entity: Entity) -> Iterator[Entity]:
        """Players within the view radius of ``entity`` (itself included), unordered."""
        for eid in self.players_near(entity.id, self.view_radius):
            handle = self.handles.get(eid)
            if handle is not None:
                yield handle

    # --------------------------------------------------------------------- tick
    def step(self, dt: float | None = None) -> list[Event]:
        """Advance one tick; returns the events of the tick (also those queued since the last)."""
        self.tick += 1
        if dt is not None:
            self.dt = dt
        self.visible = []
        self.brains.think()
        self._move()
        self.combat.resolve_players()
        self._timers()
        self._portals()
        events, self.events = self.events, []
        return events

    def _move(self) -> None:
        table = self.table
        moving = np.flatnonzero((table.dx != 0.0) | (table.dy != 0.0))
        if not len(moving):
            return
        step = table.speed[moving] * self.dt
        x0, y0 = table.x[moving], table.y[moving]
        x = np.clip(x0 + table.dx[moving] * step, 0.0, self.width)
        y = np.clip(y0 + table.dy[moving] * step, 0.0, self.height)
        table.x[moving], table.y[moving] = x, y
        table.pos_tick[moving[(x != x0) | (y != y0)]] = self.tick

    def _timers(self) -> None:
        tick, table = self.tick, self.table
        for eid in [e for e, at in self.respawns.items() if at <= tick]:
            del self.respawns[eid]
            state = self.players[eid]
            state.respawn_at = 0
            slot = table.slot_of[eid]
            x, y = self.free_spawn_point()
            table.x[slot], table.y[slot] = x, y
            table.hp[slot] = table.max_hp[slot]
            table.flags[slot] &= 0xFF ^ FLAG_DEAD
            table.pos_tick[slot] = table.stat_tick[slot] = table.jump_tick[slot] = tick
            table.portal[slot] = self._portal_at(x, y)
            self.events.append(Respawned(eid, x, y))
        for npc in self.npcs:
            if npc.mode == actors.DEAD and npc.remove_at <= tick:
                self.npc_of.pop(npc.eid, None)
                table.remove(npc.eid)
                npc.mode, npc.eid = actors.GONE, 0
            if npc.mode == actors.GONE and npc.respawn_at <= tick:
                self._spawn_npc(npc)

    def _spawn_npc(self, npc: actors.NpcState) -> None:
        table = self.table
        live = table.live_slots()
        x, y = free_point(npc.area, self.rng, table.x[live], table.y[live])
        kind = npc.kind
        npc.eid = self.new_id()
        table.add(npc.eid, KIND_NPC, kind.name, x, y, speed=kind.speed, hp=kind.hp,
                  max_hp=kind.hp, level=kind.level, tick=self.tick)
        npc.home, npc.mode, npc.goal, npc.target = (x, y), actors.IDLE, None, 0
        npc.think_at = self.tick + 1 + npc.index % self.ticks(0.5)
        self.npc_of[npc.eid] = npc

    def _portal_at(self, x: float, y: float) -> int:
        for i, area in enumerate(self._portal_areas):
            if area.contains(x, y):
                return i
        return -1

    def _portals(self) -> None:
        if not self._portal_areas or not self.players:
            return
        table = self.table
        live = table.live_slots()
        slots = live[(table.kind[live] == KIND_PLAYER) & ((table.flags[live] & FLAG_DEAD) == 0)]
        x, y = table.x[slots], table.y[slots]
        inside = np.full(len(slots), -1, np.int16)
        for i, area in enumerate(self._portal_areas):
            hit = (x >= area.x) & (x <= area.x + area.width)
            hit &= (y >= area.y) & (y <= area.y + area.height)
            inside[hit & (inside < 0)] = i
        changed = np.flatnonzero(inside != table.portal[slots])
        table.portal[slots[changed]] = inside[changed]
        for k in changed.tolist():
            portal = int(inside[k])
            if portal >= 0:
                p = self.zone.portals[portal]
                eid = int(table.eid[slots[k]])
                self.events.append(PortalEntered(eid, p.name, p.target_zone, *p.target))
