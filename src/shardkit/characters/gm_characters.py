"""The character server's GM calls about stored characters: find, offline gold and items, rename.

Served on the character server's link to the GM port (the GM server has role ``gm`` there);
the GM server has already checked who may do what. A change to a character's saved state is
made only while it is out of play, in its account's turn (so a login that would put it in
play waits for it, and then loads the changed state), and saved as any save is: based on the
version it read, so it never overwrites a newer state.
"""

from __future__ import annotations

from collections.abc import Callable, Container

from shardkit.characters.claims import Claims
from shardkit.characters.gm_items import apply_changes, check_changes, item_counts
from shardkit.characters.gm_schemas import (
    ChangeItems,
    FindCharacters,
    GMRename,
    ItemsResult,
    LinkedWorlds,
    StoredCharacter,
)
from shardkit.characters.names import check_character_name
from shardkit.characters.service import Saves
from shardkit.store.character_search import CharacterSearch, FoundCharacter
from shardkit.store.characters import CharacterStore, NameTaken
from shardkit.wire.rpc import RpcConnection, RpcError, rpc

GM = ("gm",)


class GMCharacters:
    """Stored characters for the GM server: each call names the world it is about."""

    def __init__(self, search: CharacterSearch, characters: CharacterStore, saves: Saves,
                 claims: Claims, *, items: Container[str],
                 linked_worlds: Callable[[], list[str]]) -> None:
        self.search = search
        self.characters = characters
        self.saves = saves
        self.claims = claims
        self.items = items
        self.linked_worlds = linked_worlds

    def _stored(self, found: FoundCharacter) -> StoredCharacter:
        s = found.state
        return StoredCharacter(
            s.id, s.account_id, s.world, s.name, s.zone, s.x, s.y, s.level, s.experience,
            s.health, s.gold, item_counts(s.inventory), found.guild, found.guild_rank, s.version,
            found.updated_at.isoformat(), self.claims.holds(s.account_id, s.world, s.name))

    async def _one(self, world: str, name: str) -> FoundCharacter:
        found = await self.search.named(name, world) if world else []
        if not found:
            raise RpcError("no_such_character", f"no character '{name[:64]}' in {world[:64]}")
        return found[0]

    def _not_in_play(self, found: FoundCharacter) -> None:
        s = found.state
        if self.claims.holds(s.account_id, s.world, s.name):
            raise RpcError("in_play", f"{s.name} is in play in {s.world}")

    @rpc("gm_worlds", LinkedWorlds, roles=GM)
    def gm_worlds(self, conn: RpcConnection, p: LinkedWorlds) -> list[str]:
        """The worlds whose daemon the character server is linked to now."""
        return self.linked_worlds()

    @rpc("gm_characters", FindCharacters, roles=GM)
    async def gm_characters(self, conn: RpcConnection, p: FindCharacters) -> list[StoredCharacter]:
        """Undeleted characters of a name, in one world or every world, as stored."""
        return [self._stored(found) for found in await self.search.named(p.name, p.world)]

    @rpc("gm_change_items", ChangeItems, roles=GM)
    async def gm_change_items(self, conn: RpcConnection, p: ChangeItems) -> ItemsResult:
        """Give or take gold and items of a character that is out of play."""
        check_changes(p.gold, p.items, self.items)
        found = await self._one(p.world, p.name)
        account = found.state.account_id
        async with self.claims.turns.turn(account):  # a load waits, then reads the change
            self._not_in_play(found)
            state = await self.characters.load(account, found.state.world, found.state.name)
            if state is None:
                raise RpcError("no_such_character", f"no character '{p.name[:64]}' in {p.world}")
            changed = apply_changes(state, p.gold, p.items)
            saved = await self.saves.save(changed)
        if not saved.ok:
            raise RpcError("conflict", f"{state.name} changed meanwhile ({saved.reason});"
                                       " try again")
        return ItemsResult(state.world, state.name, changed.gold, item_counts(changed.inventory),
                           saved.version)

    @rpc("gm_rename", GMRename, roles=GM)
    async def gm_rename(self, conn: RpcConnection, p: GMRename) -> StoredCharacter:
        """Rename any character of a world that is out of play; the name rules apply."""
        check_character_name(p.new_name)
        found = await self._one(p.world, p.name)
        account = found.state.account_id
        async with self.claims.turns.turn(account):
            self._not_in_play(found)
            try:
                renamed = await self.characters.rename(account, found.state.world,
                                                       found.state.name, p.new_name)
            except NameTaken:
                raise RpcError("name_taken", f"'{p.new_name}' is taken in {p.world}") from None
        if renamed is None:
            raise RpcError("no_such_character", f"no character '{p.name[:64]}' in {p.world}")
        return self._stored(await self._one(renamed.world, renamed.name))
