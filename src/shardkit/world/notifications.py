"""Notifications a WorldServer sends its players (and the master's and zones' it sends too)."""

from __future__ import annotations

from shardkit.master.notifications import Broadcast, Kicked
from shardkit.wire.peers import Notification
from shardkit.zone.notifications import WHISPER, WORLD, Chat

__all__ = ["WHISPER", "WORLD", "Broadcast", "Chat", "GoingDown", "GuildChat", "Kicked",
           "ZoneLost"]


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


class GoingDown(Notification):
    """This WorldServer stops in ``in_s`` seconds (0: now) for a planned ``reason``.

    ``reason`` is ``reboot`` (it comes back, in about ``back_in_s`` seconds), ``shutdown`` or
    ``stop`` (not coming back on its own: ``back_in_s`` is 0); ``text`` says it in words.
    The daemon sends it to its WorldServers (countdown steps, then ``in_s`` 0), which pass it
    on to their players as it is.
    """

    method = "going_down"

    reason: str
    in_s: float
    back_in_s: float
    text: str
