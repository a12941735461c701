"""The GM port's published API: the audit log its services write to, and what game masters call."""

from __future__ import annotations

from typing import Any

import msgspec

from shardkit.characters.gm_schemas import ItemCount, ItemsResult, StoredCharacter
from shardkit.characters.schemas import DeletedCharacterInfo, RestoredCharacter
from shardkit.gm.schemas import (
    AuditPage,
    AuditQuery,
    BroadcastReport,
    CharacterReport,
    GameMasterInfo,
    GMWelcome,
    KickReport,
    WhoResult,
)
from shardkit.master.gm_schemas import BanInfo, Lifted
from shardkit.wire.peers import Ok, PeerApi


class GMAuditApi(PeerApi):
    """What the character server sends the GM server over its link to 1998."""

    def audit(self, actor: str, action: str, target: str, detail: dict[str, object]) -> bool:
        """Append an event to the audit log (a notification); False if the link is down."""
        return bool(self.peer.notify("audit", actor, action, target, detail))


class GMApi(PeerApi):
    """What a game master calls on the GM port (after logging in with a master-issued ticket).

    A character is named by ``name`` and, where the name is used in several worlds, ``world``.
    """

    async def gm_login(self, ticket: bytes) -> GMWelcome:
        return await self.peer.call_as(GMWelcome, "gm_login", ticket)

    # players
    async def who(self, world: str = "", zone: str = "", name: str = "",
                  limit: int = 200) -> WhoResult:
        return await self.peer.call_as(WhoResult, "who", world, zone, name, limit)

    async def complete_names(self, prefix: str, limit: int = 50) -> list[str]:
        return await self.peer.call_as(list[str], "complete_names", prefix, limit)

    async def inspect(self, name: str, world: str = "") -> CharacterReport:
        return await self.peer.call_as(CharacterReport, "inspect", name, world)

    async def kick(self, name: str, reason: str, world: str = "") -> KickReport:
        return await self.peer.call_as(KickReport, "kick", name, reason, world)

    async def broadcast(self, text: str, world: str = "") -> BroadcastReport:
        return await self.peer.call_as(BroadcastReport, "broadcast", text, world)

    # accounts and addresses
    async def ban(self, *, account: str = "", address: str = "", duration_s: float | None,
                  reason: str) -> BanInfo:
        return await self.peer.call_as(BanInfo, "ban", account, address, duration_s, reason)

    async def unban(self, *, account: str = "", address: str = "") -> Lifted:
        return await self.peer.call_as(Lifted, "unban", account, address)

    async def bans(self) -> list[BanInfo]:
        return await self.peer.call_as(list[BanInfo], "bans")

    # characters
    async def grant(self, name: str, gold: int = 0, items: list[ItemCount] | None = None,
                    world: str = "") -> ItemsResult:
        return await self.peer.call_as(ItemsResult, "grant", name, gold, items or [], world)

    async def take(self, name: str, gold: int = 0, items: list[ItemCount] | None = None,
                   world: str = "") -> ItemsResult:
        return await self.peer.call_as(ItemsResult, "take", name, gold, items or [], world)

    async def rename(self, name: str, new_name: str, world: str = "") -> StoredCharacter:
        return await self.peer.call_as(StoredCharacter, "rename", name, new_name, world)

    async def deleted_characters(self, world: str, limit: int) -> list[DeletedCharacterInfo]:
        return await self.peer.call_as(list[DeletedCharacterInfo], "deleted_characters", world,
                                       limit)

    async def restore_character(self, world: str, name: str) -> RestoredCharacter:
        return await self.peer.call_as(RestoredCharacter, "restore_character", world, name)

    # in a zone
    async def teleport(self, name: str, zone: str, x: float, y: float, world: str = "") -> Ok:
        return await self.peer.call_as(Ok, "teleport", name, zone, x, y, world)

    async def teleport_to(self, name: str, to: str, world: str = "") -> Ok:
        return await self.peer.call_as(Ok, "teleport_to", name, to, world)

    async def goto(self, name: str, world: str = "") -> Ok:
        return await self.peer.call_as(Ok, "goto", name, world)

    async def summon(self, name: str, world: str = "") -> Ok:
        return await self.peer.call_as(Ok, "summon", name, world)

    async def mute(self, name: str, duration_s: float, reason: str, world: str = "") -> Ok:
        return await self.peer.call_as(Ok, "mute", name, duration_s, reason, world)

    async def unmute(self, name: str, world: str = "") -> Ok:
        return await self.peer.call_as(Ok, "unmute", name, world)

    # admins
    async def game_masters(self) -> list[GameMasterInfo]:
        return await self.peer.call_as(list[GameMasterInfo], "game_masters")

    async def set_role(self, account: str, role: str) -> GameMasterInfo:
        return await self.peer.call_as(GameMasterInfo, "set_role", account, role)

    async def set_worlds(self, account: str, worlds: list[str]) -> GameMasterInfo:
        return await self.peer.call_as(GameMasterInfo, "set_worlds", account, worlds)

    # the audit log
    async def audit_log(self, limit: int) -> list[dict[str, Any]]:
        return await self.peer.call_as(list[dict[str, Any]], "audit_log", limit)

    async def audit_query(self, query: AuditQuery) -> AuditPage:
        return await self.peer.call_as(AuditPage, "audit_query",
                                       *msgspec.structs.astuple(query))
