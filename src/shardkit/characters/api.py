"""The character server's published API, beyond its relayed calls (characters/calls.py)."""

from __future__ import annotations

from shardkit.characters.schemas import (
    DeletedCharacterInfo,
    GuildChatTargets,
    RestoredCharacter,
)
from shardkit.wire.peers import PeerApi


class CharactersApi(PeerApi):
    """What a daemon calls on the character server over its 7001 link."""

    async def content_version(self) -> str:
        """The content version the character server stores characters for."""
        return await self.peer.call_as(str, "content_version")

    async def guild_chat_targets(self, character_id: int, text: str) -> GuildChatTargets:
        """Who hears the character's guild message, and the message as they get it."""
        return await self.peer.call_as(GuildChatTargets, "guild_chat_targets", character_id, text)


class CharactersGMApi(PeerApi):
    """What the GM server calls on the character server over the character server's 1998 link."""

    async def deleted_characters(self, world: str, limit: int) -> list[DeletedCharacterInfo]:
        return await self.peer.call_as(list[DeletedCharacterInfo], "deleted_characters", world,
                                       limit)

    async def restore_character(self, world: str, name: str) -> RestoredCharacter:
        return await self.peer.call_as(RestoredCharacter, "restore_character", world, name)
