"""Notifications a zone sends its players: what they see, hear, and what became of them."""

from __future__ import annotations

from shardkit.master.notifications import Kicked
from shardkit.wire.peers import Notification

__all__ = ["Chat", "Kicked", "Left", "Saved", "Snapshot", "SnapshotRow"]

SnapshotRow = tuple[int, str, float, float]
"""One entity as a snapshot shows it: entity id, name, x, y."""


class Snapshot(Notification):
    """What the player can see this tick."""

    method = "snapshot"

    tick: int
    rows: list[SnapshotRow]


class Chat(Notification):
    """Someone in the zone said something."""

    method = "chat"

    speaker: str
    text: str


class Left(Notification):
    """An entity left the zone."""

    method = "left"

    entity_id: int


class Saved(Notification):
    """The character server committed our character at this version and place."""

    method = "saved"

    version: int
    zone: str
    x: float
    y: float
