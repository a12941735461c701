"""Messages of the GM calls a WorldServer answers (relayed GM -> characters -> daemon; gm/calls.py).

``world`` picks the daemon (at the character server) and ``cluster`` the WorldServer (at the
daemon); -1 for the cluster means every WorldServer of the world (the daemon asks each).
"""

from __future__ import annotations

import msgspec

from shardkit.characters.gm_schemas import ItemCount


class WhoQuery(msgspec.Struct, array_like=True):
    """Who plays here: ``zone`` exact, ``name`` a prefix of the character's or account's name."""

    world: str
    cluster: int = -1
    zone: str = ""
    name: str = ""
    account_id: int = 0  # 0: any account
    limit: int = 500


class OnlineCharacter(msgspec.Struct):
    """A player logged in to a WorldServer, and the character it plays (if it entered the game)."""

    world: str
    cluster: int
    account_id: int
    account: str
    character_id: int  # 0: choosing a character, not in the game
    character: str
    zone: str
    address: str  # the player's IP address


class WorldNotice(msgspec.Struct, array_like=True):
    world: str
    cluster: int = -1
    text: str = ""


class Reached(msgspec.Struct):
    players: int  # how many players were sent the notice


class CharacterAt(msgspec.Struct, array_like=True):
    """One character in play on one WorldServer (from ``gm_who``)."""

    world: str
    cluster: int
    character_id: int


class TeleportParams(msgspec.Struct, array_like=True):
    """To (x, y) of ``zone``: its own zone ("" too) or another zone of the same WorldServer."""

    world: str
    cluster: int
    character_id: int
    zone: str
    x: float
    y: float


class MuteParams(msgspec.Struct, array_like=True):
    world: str
    cluster: int
    character_id: int
    until: float  # unix time; its chat is dropped until then
    reason: str = ""


class LiveItemChange(msgspec.Struct, array_like=True):
    world: str
    cluster: int
    character_id: int
    gold: int = 0
    items: list[ItemCount] = msgspec.field(default_factory=list)


class LiveCharacter(msgspec.Struct):
    """A character's state in its zone now (the zone's ``inspect``)."""

    character_id: int
    name: str
    zone: str
    x: float
    y: float
    level: int
    health: int
    gold: int
    items: list[ItemCount]
    muted_until: float | None = None  # Unix time; None: not muted
    mute_reason: str = ""
    max_health: int = 0
    experience: int = 0
    dead: bool = False
    version: int = 0  # the stored version its state is based on (its last save)
