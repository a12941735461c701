"""Per-entity game state not hot enough for the columnar table: players' progress, NPCs' minds."""

from __future__ import annotations

from shardkit.content import Area, NpcKindDef

# NPC modes
IDLE = 0  # wandering around home; notices players
CHASE = 1  # following its target and attacking it
RETURN = 2  # leashed: walking home, ignoring everything; heals on arrival
DEAD = 3  # a corpse, still visible
GONE = 4  # removed from the zone, waiting to respawn


class PlayerState:
    """A player's progress (saved through the character server) and its anti-cheat counters."""

    __slots__ = ("attack_ready", "eid", "gold", "items", "name", "respawn_at", "strikes", "xp")

    def __init__(self, eid: int, name: str, *, xp: int, gold: int, items: dict[str, int]) -> None:
        self.eid = eid
        self.name = name
        self.xp = xp
        self.gold = gold
        self.items = items
        self.strikes = 0  # impossible position claims so far
        self.respawn_at = 0  # tick at which a dead player comes back (0: alive)
        self.attack_ready = 0  # first tick of the next allowed attack


class NpcState:
    """One NPC spawn point's occupant: its kind, home, mode and timers (ticks)."""

    __slots__ = ("area", "attack_ready", "eid", "goal", "home", "index", "kind", "kind_name",
                 "mode",
                 "remove_at", "respawn_at", "target", "think_at")

    def __init__(self, index: int, kind_name: str, kind: NpcKindDef, area: Area) -> None:
        self.index = index
        self.kind_name = kind_name
        self.kind = kind
        self.area = area
        self.eid = 0
        self.mode = GONE
        self.home = (0.0, 0.0)
        self.goal: tuple[float, float] | None = None
        self.target = 0
        self.attack_ready = 0
        self.think_at = 0
        self.remove_at = 0
        self.respawn_at = 0
