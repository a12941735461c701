"""The character server's published API, beyond its relayed calls (characters/calls.py)."""

from __future__ import annotations

from shardkit.characters.gm_schemas import ItemCount, ItemsResult, StoredCharacter
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

    async def gm_worlds(self) -> list[str]:
        """The worlds whose daemon the character server is linked to now."""
        return await self.peer.call_as(list[str], "gm_worlds")

    async def gm_characters(self, name: str, world: str = "") -> list[StoredCharacter]:
        """Undeleted characters called ``name`` in ``world`` ("" every world), as stored."""
        return await self.peer.call_as(list[StoredCharacter], "gm_characters", name, world)

    async def gm_change_items(self, world: str, name: str, gold: int,
                              items: list[ItemCount]) -> ItemsResult:
        """Give (positive) or take (negative) gold and items of a character out of play."""
        return await self.peer.call_as(ItemsResult, "gm_change_items", world, name, gold, items)

    async def gm_rename(self, world: str, name: str, new_name: str) -> StoredCharacter:
        """Rename a character of ``world`` that is out of play."""
        return await self.peer.call_as(StoredCharacter, "gm_rename", world, name, new_name)
