"""Notifications a daemon sends its WorldServers (it passes on the master's KickAccount too)."""

from __future__ import annotations

from shardkit.wire.peers import Notification


class GuildChatDelivery(Notification):
    """A guild message for those of ``member_ids`` playing on the WorldServer it is sent to."""

    method = "guild_chat"

    guild: str
    speaker: str
    text: str
    member_ids: list[int]
