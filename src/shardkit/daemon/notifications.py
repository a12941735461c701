"""Notifications a daemon sends its WorldServers (kicks it passes on are the master's KickAccount)."""

from __future__ import annotations

from shardkit.wire.peers import Notification


class GuildChatDelivery(Notification):
    """A guild message for those of ``member_ids`` playing on the WorldServer it is sent to."""

    method = "guild_chat"

    guild: str
    speaker: str
    text: str
    member_ids: list[int]
