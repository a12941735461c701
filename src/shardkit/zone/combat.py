"""Combat rules: an attack's checks (target, range, cooldown), damage, death, experience, loot."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from shardkit.zone import actors
from shardkit.zone.entities import FLAG_DEAD, KIND_NPC, KIND_PLAYER
from shardkit.zone.events import (
    VISIBLE_DEATH,
    VISIBLE_HIT,
    VISIBLE_LEVEL_UP,
    AttackRefused,
    Death,
    Experience,
    Hit,
    LevelUp,
    Loot,
)
from shardkit.zone.loot import roll_loot

if TYPE_CHECKING:
    from shardkit.zone.simulation import Simulation


class Combat:
    """Resolves the attacks queued during a tick; all effects go into the simulation's events."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.queued: list[tuple[int, int]] = []  # (player, target) entity ids, in arrival order

    def player_attack(self, player: int, target: int) -> None:
        self.queued.append((player, target))

    def resolve_players(self) -> None:
        queued, self.queued = self.queued, []
        for player, target in queued:
            reason = self._try_player_attack(player, target)
            if reason:
                self.sim.events.append(AttackRefused(player, target, reason))

    def _try_player_attack(self, eid: int, target: int) -> str:
        sim, table = self.sim, self.sim.table
        state = sim.players.get(eid)
        if state is None:
            return ""  # left the zone meanwhile: nobody to tell
        slot = table.slot_of[eid]
        if table.flags[slot] & FLAG_DEAD:
            return "dead"
        tslot = table.slot_of.get(target)
        if tslot is None or target == eid or table.flags[tslot] & FLAG_DEAD:
            return "no_target"
        if table.kind[tslot] == KIND_PLAYER and not sim.pvp:
            return "not_allowed"
        reach = math.hypot(table.x[tslot] - table.x[slot], table.y[tslot] - table.y[slot])
        if reach > sim.rules.attack_range:
            return "out_of_range"
        if sim.tick < state.attack_ready:
            return "cooldown"
        state.attack_ready = sim.tick + sim.ticks(sim.rules.attack_cooldown_s)
        self.damage(eid, tslot, sim.rules.attack_damage(int(table.level[slot])))
        return ""

    def npc_attack(self, npc: actors.NpcState, target_slot: int) -> None:
        npc.attack_ready = self.sim.tick + self.sim.ticks(npc.kind.attack_cooldown_s)
        self.damage(npc.eid, target_slot, npc.kind.damage)

    def damage(self, attacker: int, slot: int, amount: int) -> None:
        sim, table = self.sim, self.sim.table
        target = int(table.eid[slot])
        hp = max(0, int(table.hp[slot]) - amount)
        table.hp[slot] = hp
        table.stat_tick[slot] = sim.tick
        sim.events.append(Hit(attacker, target, amount, hp))
        sim.visible.append((VISIBLE_HIT, attacker, target, amount, slot))
        if hp == 0:
            self.die(slot, attacker)
        elif table.kind[slot] == KIND_NPC:
            npc = sim.npc_of.get(target)
            if npc is not None and npc.mode == actors.IDLE and attacker in sim.players:
                npc.mode, npc.target, npc.goal = actors.CHASE, attacker, None

    def die(self, slot: int, killer: int) -> None:
        sim, table = self.sim, self.sim.table
        eid = int(table.eid[slot])
        table.flags[slot] |= FLAG_DEAD
        table.dx[slot] = table.dy[slot] = 0.0
        table.stat_tick[slot] = sim.tick
        sim.events.append(Death(eid, killer))
        sim.visible.append((VISIBLE_DEATH, killer, eid, 0, slot))
        player = sim.players.get(eid)
        if player is not None:
            player.respawn_at = sim.tick + sim.ticks(sim.rules.respawn_s)
            sim.respawns[eid] = player.respawn_at
            return
        npc = sim.npc_of.get(eid)
        if npc is None:
            return
        npc.mode = actors.DEAD
        npc.remove_at = sim.tick + sim.ticks(npc.kind.corpse_s)
        npc.respawn_at = max(npc.remove_at, sim.tick + sim.ticks(npc.kind.respawn_s))
        if killer in sim.players:
            self.reward(killer, npc)

    def reward(self, eid: int, npc: actors.NpcState) -> None:
        """Experience (and levels) and the NPC's loot go to the player who killed it."""
        sim, table = self.sim, self.sim.table
        player = sim.players[eid]
        slot = table.slot_of[eid]
        if npc.kind.xp:
            player.xp += npc.kind.xp
            sim.events.append(Experience(eid, npc.kind.xp, player.xp))
            level = sim.rules.level_for(player.xp)
            if level > table.level[slot]:
                table.level[slot] = level
                table.max_hp[slot] = sim.rules.max_hp(level)
                if not table.flags[slot] & FLAG_DEAD:
                    table.hp[slot] = table.max_hp[slot]
                table.stat_tick[slot] = sim.tick
                sim.events.append(LevelUp(eid, level, int(table.max_hp[slot])))
                sim.visible.append((VISIBLE_LEVEL_UP, eid, eid, level, slot))
        table_def = sim.loot_tables.get(npc.kind.loot)
        if table_def is None:
            return
        gold, items = roll_loot(table_def, sim.rng)
        if not gold and not items:
            return
        player.gold += gold
        for item, count in items:
            player.items[item] = player.items.get(item, 0) + count
        sim.events.append(Loot(eid, npc.eid, gold, items))
