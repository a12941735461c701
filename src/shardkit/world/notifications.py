"""Notifications a WorldServer sends its players (and the master's and zones' it sends too)."""

from __future__ import annotations

from shardkit.master.notifications import Broadcast, Kicked
from shardkit.wire.peers import Notification
from shardkit.zone.notifications import WHISPER, WORLD, Chat

__all__ = ["WHISPER", "WORLD", "Broadcast", "Chat", "GuildChat", "Kicked", "ZoneLost"]


class ZoneLost(Notification):
    """Our zone process went down; enter the game again once it is back."""

    method = "zone_lost"

    zone: str


class GuildChat(Notification):
    """A member of our guild said something (on any WorldServer of the world)."""

    method = "guild_chat"

    guild: str
    speaker: str
    text: str
