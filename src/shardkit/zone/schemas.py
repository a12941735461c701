"""Messages of a zone port: the ticket login, players' real-time input, attacks and chat."""

from __future__ import annotations

import msgspec

ZONE_SECRET_ENV = "SHARDKIT_ZONE_SECRET"  # the WorldServer hands its zones their link secret here


class ZoneLogin(msgspec.Struct, array_like=True):
    ticket: bytes


class Input(msgspec.Struct, array_like=True):
    """Where the player wants to go: a direction, each axis in [-1, 1]; (0, 0) stops."""

    dx: float
    dy: float


class ClaimPosition(msgspec.Struct, array_like=True):
    """Where the client believes its player is; the zone checks it against its own."""

    x: float
    y: float


class Attack(msgspec.Struct, array_like=True):
    target: int  # an entity id from ``sync``


class Say(msgspec.Struct, array_like=True):
    text: str


class ChatLine(msgspec.Struct, array_like=True):
    channel: str  # "say", "zone" or "world"
    text: str


class WhisperTo(msgspec.Struct, array_like=True):
    to: str  # a character's name, any case
    text: str


class PortalSign(msgspec.Struct, array_like=True):
    """Where a portal of the zone is (its area, lower corner and size) and where it leads."""

    name: str
    x: float
    y: float
    width: float
    height: float
    zone: str  # the zone it leads to


class Entered(msgspec.Struct):
    """The answer to ``zone_login``: who and where we are, and the zone's numbers."""

    entity_id: int
    zone: str
    x: float
    y: float
    tick_hz: float
    speed: float
    level: int = 1
    xp: int = 0
    hp: int = 100
    max_hp: int = 100
    gold: int = 0
    items: list[tuple[str, int]] = msgspec.field(default_factory=list)
    view_radius: float = 60.0
    say_radius: float = 60.0
    width: float = 0.0  # the zone's size (0: not told)
    height: float = 0.0
    portals: list[PortalSign] = msgspec.field(default_factory=list)
    level_xp: list[int] = msgspec.field(default_factory=list)  # total xp for level 2, 3, ...
