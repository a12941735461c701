"""Messages of a zone's administration methods, which its WorldServer calls (role ``world``).

Characters are named by their name in any case; the WorldServer's console and, through it,
game masters use them (zone/admin_port.py serves them, zone/api.py's ZoneApi calls them).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(max_length=64)]
Text = Annotated[str, msgspec.Meta(max_length=1024)]


class CharacterNamed(msgspec.Struct, array_like=True):
    character: Name


class MuteCharacter(msgspec.Struct, array_like=True):
    character: Name
    until: float  # Unix time (seconds); must be in the future
    reason: Text = ""


class TeleportCharacter(msgspec.Struct, array_like=True):
    """To (x, y) of this zone, or (``zone``) of another zone of the same WorldServer."""

    character: Name
    x: float
    y: float
    zone: Name = ""  # "": this zone


class GrantCharacter(msgspec.Struct, array_like=True):
    """Add (or, negative, take) gold and items; refused whole if any result would be below 0."""

    character: Name
    gold: int = 0
    items: dict[Name, int] = msgspec.field(default_factory=dict)


class ZoneNotice(msgspec.Struct, array_like=True):
    text: Text


class SpawnNpc(msgspec.Struct, array_like=True):
    kind: Name  # an NPC kind of the content (npcs.toml)
    x: float
    y: float


class SpawnedNpc(msgspec.Struct):
    entity_id: int


class ZonePlayer(msgspec.Struct):
    """One player in the zone, as ``players`` lists it."""

    account_id: int
    character_id: int
    name: str
    x: float
    y: float
    level: int
    hp: int
    max_hp: int


class LiveCharacter(msgspec.Struct):
    """One character's live state in the zone (``inspect``, and the answer to ``grant``)."""

    account_id: int
    character_id: int
    name: str
    zone: str
    entity_id: int
    x: float
    y: float
    level: int
    xp: int
    hp: int
    max_hp: int
    dead: bool
    gold: int
    items: list[tuple[str, int]]
    muted_until: float  # Unix time; 0: not muted
    mute_reason: str
    strikes: int  # impossible positions it claimed
    version: int  # the stored version its state is based on


class ZoneStatus(msgspec.Struct):
    """The zone's population and tick times over its last minute or so."""

    zone: str
    players: int
    npcs: int
    tick: int
    tick_hz: float
    tick_p50_ms: float
    tick_p99_ms: float
    late_ticks: int  # ticks since the start that began after the next was due
