"""Game masters' commands on the GM port: ticket login, restoring characters, the audit log."""

from __future__ import annotations

from typing import Any

from shardkit.characters.api import CharactersGMApi
from shardkit.characters.schemas import (
    DeletedCharacterInfo,
    DeletedCharacters,
    RestoreCharacter,
    RestoredCharacter,
)
from shardkit.gm.audit_book import AuditBook
from shardkit.gm.schemas import GM_TICKET_DESTINATION, GMLogin, GMWelcome, RecentAudit
from shardkit.wire.rpc import Identity, RpcConnection, RpcError, rpc
from shardkit.wire.tickets import TicketRedeemer


class GMCommands:
    """What a game master may do on the GM port after ``gm_login``; every action is audited."""

    def __init__(self, redeemer: TicketRedeemer, audit: AuditBook,
                 characters: CharactersGMApi) -> None:
        self.redeemer = redeemer
        self.audit = audit
        self.characters = characters

    @staticmethod
    def _actor(conn: RpcConnection) -> str:
        assert conn.identity is not None
        return f"gm:{conn.identity.name}"

    @rpc("gm_login", GMLogin, public=True)
    async def gm_login(self, conn: RpcConnection, p: GMLogin) -> GMWelcome:
        """Log in with the single-use GM ticket the master issued to a gm or admin account."""
        if conn.identity is not None:
            raise RpcError("already_authenticated", "this connection is already logged in")
        ticket = self.redeemer.redeem(p.ticket, GM_TICKET_DESTINATION)
        conn.identity = Identity("gm", ticket.account_name, ticket.account_id)
        await self.audit.record(self._actor(conn), "gm_login", None,
                                {"account_id": ticket.account_id, "ip": conn.peer_ip})
        return GMWelcome(ticket.account_id, ticket.account_name)

    @rpc("deleted_characters", DeletedCharacters, roles=("gm",))
    async def deleted_characters(
        self, conn: RpcConnection, p: DeletedCharacters
    ) -> list[DeletedCharacterInfo]:
        """A world's deleted characters, last deleted first, with their restore deadline."""
        return await self.characters.deleted_characters(p.world, p.limit)

    @rpc("restore_character", RestoreCharacter, roles=("gm",))
    async def restore_character(
        self, conn: RpcConnection, p: RestoreCharacter
    ) -> RestoredCharacter:
        """Undo a character's deletion, within ``restore_days`` of it."""
        target = f"{p.world}/{p.name}"
        try:
            restored = await self.characters.restore_character(p.world, p.name)
        except RpcError as exc:
            await self.audit.record(self._actor(conn), "restore_character", target,
                                    {"ok": False, "error": exc.code})
            raise
        await self.audit.record(self._actor(conn), "restore_character",
                                f"{p.world}/{restored.name}",
                                {"ok": True, "account_id": restored.account_id})
        return restored

    @rpc("audit_log", RecentAudit, roles=("gm",))
    async def audit_log(self, conn: RpcConnection, p: RecentAudit) -> list[dict[str, Any]]:
        """The latest audit events, newest first."""
        return await self.audit.recent(p.limit)
