"""The GM port's published API: the audit log its services write to, and what game masters call."""

from __future__ import annotations

from typing import Any

from shardkit.characters.schemas import DeletedCharacterInfo, RestoredCharacter
from shardkit.gm.schemas import GMWelcome
from shardkit.wire.peers import PeerApi


class GMAuditApi(PeerApi):
    """What the character server sends the GM server over its link to 1998."""

    def audit(self, actor: str, action: str, target: str, detail: dict[str, object]) -> bool:
        """Append an event to the audit log (a notification); False if the link is down."""
        return bool(self.peer.notify("audit", actor, action, target, detail))


class GMApi(PeerApi):
    """What a game master calls on the GM port (after logging in with a master-issued ticket)."""

    async def gm_login(self, ticket: bytes) -> GMWelcome:
        return await self.peer.call_as(GMWelcome, "gm_login", ticket)

    async def deleted_characters(self, world: str, limit: int) -> list[DeletedCharacterInfo]:
        return await self.peer.call_as(list[DeletedCharacterInfo], "deleted_characters", world,
                                       limit)

    async def restore_character(self, world: str, name: str) -> RestoredCharacter:
        return await self.peer.call_as(RestoredCharacter, "restore_character", world, name)

    async def audit_log(self, limit: int) -> list[dict[str, Any]]:
        return await self.peer.call_as(list[dict[str, Any]], "audit_log", limit)
