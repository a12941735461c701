"""Notifications a zone sends its players: what they see, hear, win, and what became of them.

``sync`` is written by ``zone/sync_format.py`` straight into bytes (the struct here is its
shape, for clients and the protocol document); every other notification is one of these
structs, sent with ``encode_notice`` (once for many players) or ``notify``.
"""

from __future__ import annotations

from shardkit.master.notifications import Broadcast, Kicked
from shardkit.wire.peers import Notification

__all__ = [
    "AttackRefused", "Broadcast", "Chat", "Corrected", "Experience", "Inventory", "Kicked",
    "LevelUp", "Loot", "Muted", "Portal", "Respawned", "Saved", "Sync", "Transfer",
]

SAY, ZONE, WORLD, WHISPER = "say", "zone", "world", "whisper"
CHANNELS = (SAY, ZONE, WORLD, WHISPER)
"""Chat channels: heard nearby, zone-wide, world-wide, and by one character."""

ItemCounts = list[tuple[str, int]]
"""Items as [item, count] pairs, sorted by item (item names are the content's keys)."""


class Sync(Notification):
    """What changed in the player's view this tick (docs/protocol.md, "Zone sync format")."""

    method = "sync"

    tick: int
    body: bytes


class Chat(Notification):
    """Someone said something on a channel we hear (``say``, ``zone``, ``world``, ``whisper``)."""

    method = "chat"

    speaker: str
    text: str
    channel: str = SAY


class Loot(Notification):
    """We killed ``source`` and took its gold and items (already ours)."""

    method = "loot"

    source: int
    gold: int
    items: ItemCounts


class Experience(Notification):
    """We gained experience; ``total`` is all we have."""

    method = "experience"

    gained: int
    total: int


class LevelUp(Notification):
    """We reached a level (health restored to the new maximum)."""

    method = "level_up"

    level: int
    max_hp: int


class Inventory(Notification):
    """Our gold and items as they are now (after loot, or an administrator's grant)."""

    method = "inventory"

    gold: int
    items: ItemCounts


class Respawned(Notification):
    """We are alive again, at full health, at this point of the zone's spawn area."""

    method = "respawned"

    x: float
    y: float
    hp: int


class Corrected(Notification):
    """The position we claimed was refused: the zone has us here."""

    method = "corrected"

    x: float
    y: float


class AttackRefused(Notification):
    """Our attack did not happen, and why (``reason``)."""

    method = "attack_refused"

    target: int
    reason: str


class Portal(Notification):
    """We stepped into a portal to ``zone`` at (x, y); ``moved``: we were saved there.

    With ``moved`` the connection closes: enter the game again to arrive. Without, the trip
    is not possible yet (a zone of another WorldServer).
    """

    method = "portal"

    portal: str
    zone: str
    x: float
    y: float
    moved: bool


class Transfer(Notification):
    """We stepped into a portal to ``zone`` of another WorldServer and were saved there.

    The connection closes; go to that WorldServer's world port (``host``, ``port``) and
    redeem ``ticket`` with ``transfer_login`` (single-use, bound to that WorldServer, 30 s).
    """

    method = "transfer"

    portal: str
    zone: str
    x: float
    y: float
    host: str
    port: int
    ticket: bytes


class Muted(Notification):
    """Our chat is dropped until ``until`` (Unix time, seconds) for ``reason``; 0: unmuted."""

    method = "muted"

    until: float
    reason: str


class Saved(Notification):
    """The character server committed our character at this version and place."""

    method = "saved"

    version: int
    zone: str
    x: float
    y: float
