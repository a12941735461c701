"""The shapes of the content files (zones, NPC kinds, items and loot, player rules) as Structs."""

from __future__ import annotations

import msgspec

#: Positions travel quantized to 1/16 unit in an unsigned 16-bit integer (docs/protocol.md,
#: "Zone sync format"), so no zone may be larger than this on either axis.
MAX_ZONE_SIZE = 4095.0


class Area(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An axis-aligned rectangle: its lower corner (x, y) and its size."""

    x: float
    y: float
    width: float
    height: float

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px <= self.x + self.width and self.y <= py <= self.y + self.height

    def inside(self, width: float, height: float) -> bool:
        """True if the whole rectangle lies within a zone of this size."""
        return (self.x >= 0 and self.y >= 0 and self.x + self.width <= width
                and self.y + self.height <= height)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)


class PortalDef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Stepping into ``area`` sends a player to ``target`` in ``target_zone``."""

    name: str
    area: Area
    target_zone: str
    target: tuple[float, float]


class NpcSpawnDef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``count`` NPCs of ``kind`` live in ``area`` (each respawns there after dying)."""

    kind: str
    count: int
    area: Area


class ZoneDef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One zone: its size, where characters appear, its portals and its NPCs."""

    width: float = 1000.0
    height: float = 1000.0
    #: A point of the zone players are sent to when nothing better is known. A new character
    #: (and one that respawns or arrives without a place here) appears at a random free point
    #: of ``spawn_area``.
    spawn: tuple[float, float] = (100.0, 100.0)
    spawn_area: Area | None = None  # None: a 40 x 40 square around ``spawn`` (within bounds)
    say_radius: float = 60.0  # how far `say` is heard
    pvp: bool = False  # may players attack each other here
    portals: list[PortalDef] = msgspec.field(default_factory=list)
    npcs: list[NpcSpawnDef] = msgspec.field(default_factory=list)

    @property
    def spawn_rect(self) -> Area:
        """The spawn area, defaulted from ``spawn`` when the file gives none."""
        if self.spawn_area is not None:
            return self.spawn_area
        x0 = min(max(self.spawn[0] - 20.0, 0.0), max(self.width - 40.0, 0.0))
        y0 = min(max(self.spawn[1] - 20.0, 0.0), max(self.height - 40.0, 0.0))
        return Area(x0, y0, min(40.0, self.width), min(40.0, self.height))


class NpcKindDef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How an NPC of one kind behaves; distances in units, times in seconds, speed in units/s."""

    name: str
    level: int = 1
    hp: int = 30
    speed: float = 4.0
    wander_radius: float = 20.0  # idles around its home point within this distance
    notice_radius: float = 15.0  # a player this close gets chased (0: never aggressive)
    leash_distance: float = 40.0  # gives up when this far from home, walks back and heals
    damage: int = 4
    attack_range: float = 2.5
    attack_cooldown_s: float = 1.5
    xp: int = 20  # experience for the killer
    respawn_s: float = 20.0
    corpse_s: float = 2.0  # stays visible, dead, this long before it is removed
    loot: str = ""  # a loot table name ("" = drops nothing)


class ItemDef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    value: int = 0  # what a merchant would pay, in gold
    stackable: bool = True


class LootItemDef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    item: str
    chance: float = 1.0  # 0..1, rolled independently for each entry
    count: tuple[int, int] = (1, 1)  # inclusive range


class LootTableDef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    gold: tuple[int, int] = (0, 0)  # inclusive range
    items: list[LootItemDef] = msgspec.field(default_factory=list)


class PlayerRules(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Players' numbers: base stats, growth per level and the experience curve."""

    speed: float = 8.0  # units per second
    hp: int = 100  # at level 1
    hp_per_level: int = 10
    damage: int = 8
    damage_per_level: int = 2
    attack_range: float = 3.0
    attack_cooldown_s: float = 1.0
    respawn_s: float = 5.0  # dead this long, then back at the zone's spawn area
    #: Total experience needed to reach level 2, 3, ... ; the last entry sets the level cap.
    level_xp: list[int] = msgspec.field(default_factory=lambda: [100, 300, 600, 1000, 1500])

    def max_hp(self, level: int) -> int:
        return self.hp + self.hp_per_level * (level - 1)

    def attack_damage(self, level: int) -> int:
        return self.damage + self.damage_per_level * (level - 1)

    def level_for(self, xp: int) -> int:
        level = 1
        for needed in self.level_xp:
            if xp < needed:
                break
            level += 1
        return level
