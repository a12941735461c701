"""What a simulation step produced, as plain data for the server layer to deliver, save or log."""

from __future__ import annotations

import msgspec


class Hit(msgspec.Struct, frozen=True):
    attacker: int
    target: int
    damage: int
    hp: int  # the target's hp after the hit


class Death(msgspec.Struct, frozen=True):
    entity: int
    killer: int  # 0: nobody in particular


class Respawned(msgspec.Struct, frozen=True):
    """A dead player is back, at full health, at a free point of the zone's spawn area."""

    entity: int
    x: float
    y: float


class Loot(msgspec.Struct, frozen=True):
    """Gold and items a kill put into the killer's state (already added there)."""

    player: int
    source: int  # the NPC's entity id
    gold: int
    items: list[tuple[str, int]]


class Experience(msgspec.Struct, frozen=True):
    player: int
    gained: int
    total: int


class LevelUp(msgspec.Struct, frozen=True):
    player: int
    level: int
    max_hp: int


class PortalEntered(msgspec.Struct, frozen=True):
    """A player stepped into a portal (reported once per entry): move it to the target."""

    player: int
    portal: str
    target_zone: str
    x: float
    y: float


class Correction(msgspec.Struct, frozen=True):
    """A client claimed a position the server does not accept; ``strikes`` counts them."""

    player: int
    x: float  # where the server has the player
    y: float
    claimed_x: float
    claimed_y: float
    strikes: int


class AttackRefused(msgspec.Struct, frozen=True):
    player: int
    target: int
    reason: str  # no_target, dead, not_allowed, out_of_range, cooldown


Event = (Hit | Death | Respawned | Loot | Experience | LevelUp | PortalEntered | Correction
         | AttackRefused)

# Events every viewer of the entity sees in its sync message (docs/protocol.md, "Zone sync format").
VISIBLE_HIT = 1
VISIBLE_DEATH = 2
VISIBLE_LEVEL_UP = 3
