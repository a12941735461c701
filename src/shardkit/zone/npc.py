"""NPC minds: wander around home, notice a player, chase and attack it, leash back and heal."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from shardkit.zone import actors
from shardkit.zone.entities import FLAG_DEAD, KIND_PLAYER
from shardkit.zone.spatial import PointIndex

if TYPE_CHECKING:
    from shardkit.zone.simulation import Simulation

IDLE_THINK_S = 0.5  # an idle NPC looks around this often (staggered over NPCs)
WANDER_CHANCE = 0.3  # chance an idle NPC without a goal picks one when it looks around


class NpcBrains:
    """Sets every NPC's intent for this tick and makes the NPCs in reach attack."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def think(self) -> None:
        sim = self.sim
        tick = sim.tick
        due = [n for n in sim.npcs if n.mode == actors.IDLE and n.think_at <= tick]
        if due:
            self._look_around(due)
        for npc in sim.npcs:
            if npc.mode == actors.CHASE:
                self._chase(npc)
            elif npc.mode == actors.RETURN:
                self._go_home(npc)
            elif npc.mode == actors.IDLE and npc.goal is not None:
                self._walk_to(npc, npc.goal)

    def _look_around(self, due: list[actors.NpcState]) -> None:
        sim, table = self.sim, self.sim.table
        interval = sim.ticks(IDLE_THINK_S)
        watchers = [n for n in due if n.kind.notice_radius > 0]
        found: dict[int, int] = {}
        if watchers:
            live = table.live_slots()
            alive = (table.flags[live] & FLAG_DEAD) == 0
            players = live[(table.kind[live] == KIND_PLAYER) & alive]
            if len(players):
                slots = np.fromiter((table.slot_of[n.eid] for n in watchers), np.int64,
                                    len(watchers))
                index = PointIndex(players, table.x, table.y)
                reach = max(n.kind.notice_radius for n in watchers)
                points = np.column_stack((table.x[slots], table.y[slots]))
                dist, near = index.nearest(points, 1, reach)
                for n, d, s in zip(watchers, dist[:, 0], near[:, 0], strict=True):
                    if s >= 0 and d <= n.kind.notice_radius:
                        found[n.eid] = int(table.eid[s])
        rng = sim.rng
        for npc in due:
            npc.think_at = sim.tick + interval
            target = found.get(npc.eid)
            if target:
                npc.mode, npc.target, npc.goal = actors.CHASE, target, None
            elif npc.goal is None and rng.random() < WANDER_CHANCE:
                angle = rng.random() * math.tau
                reach = rng.random() * npc.kind.wander_radius
                hx, hy = npc.home
                npc.goal = (min(max(hx + math.cos(angle) * reach, 0.0), sim.width),
                            min(max(hy + math.sin(angle) * reach, 0.0), sim.height))

    def _chase(self, npc: actors.NpcState) -> None:
        sim, table = self.sim, self.sim.table
        slot = table.slot_of[npc.eid]
        tslot = table.slot_of.get(npc.target)
        hx, hy = npc.home
        x, y = table.x[slot], table.y[slot]
        if (tslot is None or table.flags[tslot] & FLAG_DEAD
                or math.hypot(x - hx, y - hy) > npc.kind.leash_distance):
            npc.mode, npc.target = actors.RETURN, 0
            self._go_home(npc)
            return
        tx, ty = table.x[tslot], table.y[tslot]
        if math.hypot(tx - x, ty - y) <= npc.kind.attack_range:
            table.dx[slot] = table.dy[slot] = 0.0
            if sim.tick >= npc.attack_ready:
                sim.combat.npc_attack(npc, tslot)
        else:
            self._walk_to(npc, (float(tx), float(ty)), stop_short=npc.kind.attack_range * 0.8)

    def _go_home(self, npc: actors.NpcState) -> None:
        table = self.sim.table
        if self._walk_to(npc, npc.home):
            slot = table.slot_of[npc.eid]
            npc.mode, npc.goal = actors.IDLE, None
            if table.hp[slot] != table.max_hp[slot]:
                table.hp[slot] = table.max_hp[slot]
                table.stat_tick[slot] = self.sim.tick

    def _walk_to(self, npc: actors.NpcState, goal: tuple[float, float],
                 stop_short: float = 0.0) -> bool:
        """Point the NPC at ``goal`` without overshooting; True once it is there."""
        sim, table = self.sim, self.sim.table
        slot = table.slot_of[npc.eid]
        vx, vy = goal[0] - table.x[slot], goal[1] - table.y[slot]
        dist = math.hypot(vx, vy) - stop_short
        step = table.speed[slot] * sim.dt
        if dist <= 1e-3 or step <= 0:
            table.dx[slot] = table.dy[slot] = 0.0
            if npc.mode == actors.IDLE:
                npc.goal = None
            return True
        scale = min(1.0, dist / step) / (dist + stop_short)
        table.dx[slot], table.dy[slot] = vx * scale, vy * scale
        return False
