"""Messages of a zone port: the ticket login, players' real-time input and chat, and what the zone sends back."""

from __future__ import annotations

import msgspec

ZONE_SECRET_ENV = "SHARDKIT_ZONE_SECRET"  # the WorldServer hands its zones their link secret here


class ZoneLogin(msgspec.Struct, array_like=True):
    ticket: bytes


class Input(msgspec.Struct, array_like=True):
    """Where the player wants to go: a direction, each axis in [-1, 1]; (0, 0) stops."""

    dx: float
    dy: float


class Say(msgspec.Struct, array_like=True):
    text: str


class Entered(msgspec.Struct):
    entity_id: int
    zone: str
    x: float
    y: float
    tick_hz: float
    speed: float


# Notifications the zone sends (positional params):
#   snapshot [tick, [[entity_id, name, x, y], ...]]   what the player can see this tick
#   chat     [speaker_name, text]
#   left     [entity_id]                               someone left the zone
#   kicked   [reason]                                   followed by a closed connection
#   saved    [version, zone, x, y]                      the character server committed this state
