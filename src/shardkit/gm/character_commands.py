"""GM commands on characters' saved state: grant and take gold and items, rename, restore.

A character out of play is changed in the character store, in its account's turn and by a
versioned save, so a login at the same moment either waits for the change or makes it
refused (``in_play``), never lost. A character in play is changed by the zone that holds it
(``gm_grant_live``, through its WorldServer).
"""

from __future__ import annotations

from shardkit.characters.gm_schemas import ItemCount, ItemsResult, StoredCharacter
from shardkit.characters.schemas import (
    DeletedCharacterInfo,
    DeletedCharacters,
    RestoreCharacter,
    RestoredCharacter,
)
from shardkit.gm.actions import Action, Actions
from shardkit.gm.calls import GMWorldCalls
from shardkit.gm.schemas import GrantCommand, RenameCommand
from shardkit.gm.targets import Targets, label
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.world.gm_schemas import LiveItemChange

GM = ("gm",)


class CharacterCommands:
    """``grant``, ``take``, ``rename``, ``deleted_characters`` and ``restore_character``."""

    def __init__(self, actions: Actions, targets: Targets) -> None:
        self.actions = actions
        self.targets = targets
        self.stored = targets.stored_characters

    @rpc("grant", GrantCommand, roles=GM)
    async def grant(self, conn: RpcConnection, p: GrantCommand) -> ItemsResult:
        """Give a character gold and items (online through its zone, offline in its save)."""
        return await self._change(conn, "grant", p, 1)

    @rpc("take", GrantCommand, roles=GM)
    async def take(self, conn: RpcConnection, p: GrantCommand) -> ItemsResult:
        """Take gold and items from a character; never below zero."""
        return await self._change(conn, "take", p, -1)

    async def _change(self, conn: RpcConnection, action: str, p: GrantCommand,
                      sign: int) -> ItemsResult:
        async with self.actions.run(conn, action, p.name) as act:
            if p.gold < 0 or any(item.count <= 0 for item in p.items):
                raise RpcError("bad_params", "amounts are positive (grant gives, take takes)")
            stored = await self.targets.stored(act.caller, p.name, p.world)
            act.target = label(stored.world, stored.name)
            await self.targets.require_not_admin(act.caller, stored.account_id, act.target)
            gold = sign * p.gold
            items = [ItemCount(item.item, sign * item.count) for item in p.items]
            act.detail.update(gold=gold, items={i.item: i.count for i in items})
            if stored.in_play:
                result = await self._in_play(act, stored, gold, items)
            else:
                try:
                    result = await self.stored.gm_change_items(stored.world, stored.name, gold,
                                                               items)
                except RpcError as exc:
                    if exc.code != "in_play":
                        raise
                    result = await self._in_play(act, stored, gold, items)  # it just logged in
            act.detail.update(gold_now=result.gold, version=result.version)
            return result

    async def _in_play(self, act: Action, stored: StoredCharacter, gold: int,
                       items: list[ItemCount]) -> ItemsResult:
        act.detail["in_play"] = True
        who = await self.targets.online(act.caller, stored.name, stored.world)
        return await GMWorldCalls.gm_grant_live.send(self.targets.peer, LiveItemChange(
            who.world, who.cluster, who.character_id, gold, items))

    @rpc("rename", RenameCommand, roles=GM)
    async def rename(self, conn: RpcConnection, p: RenameCommand) -> StoredCharacter:
        """Rename any character of a world that is out of play (the name rules apply)."""
        async with self.actions.run(conn, "rename", p.name) as act:
            stored = await self.targets.stored(act.caller, p.name, p.world)
            act.target = label(stored.world, stored.name)
            await self.targets.require_not_admin(act.caller, stored.account_id, act.target)
            act.detail["new_name"] = p.new_name[:64]
            renamed = await self.stored.gm_rename(stored.world, stored.name, p.new_name)
            act.detail["account_id"] = renamed.account_id
            return renamed

    @rpc("deleted_characters", DeletedCharacters, roles=GM)
    async def deleted_characters(
        self, conn: RpcConnection, p: DeletedCharacters
    ) -> list[DeletedCharacterInfo]:
        """A world's deleted characters, last deleted first, with their restore deadline."""
        async with self.actions.run(conn, "deleted_characters", f"world:{p.world}") as act:
            act.caller.require_world(p.world)
            found = await self.stored.deleted_characters(p.world, p.limit)
            act.detail["found"] = len(found)
            return found

    @rpc("restore_character", RestoreCharacter, roles=GM)
    async def restore_character(
        self, conn: RpcConnection, p: RestoreCharacter
    ) -> RestoredCharacter:
        """Undo a character's deletion, within ``restore_days`` of it."""
        async with self.actions.run(conn, "restore_character", label(p.world, p.name)) as act:
            act.caller.require_world(p.world, act.target)
            restored = await self.stored.restore_character(p.world, p.name)
            act.target = label(p.world, restored.name)
            act.detail["account_id"] = restored.account_id
            return restored
