"""The master's GM tickets: a gm or admin account gets a single-use ticket for the GM port."""

from __future__ import annotations

from shardkit.config.settings import Settings
from shardkit.gm.schemas import GM_TICKET_DESTINATION, GM_TICKET_KIND, GM_TICKET_LABEL, GMEntry
from shardkit.store.accounts import AccountStore
from shardkit.wire.handshake import derive_key
from shardkit.wire.rpc import RpcConnection, RpcError, rpc
from shardkit.wire.tickets import issue_ticket

GM_ROLES = frozenset({"gm", "admin"})


class GMTicketService:
    """Issues GM-port tickets, signed with a key the GM server derives from the same secret."""

    def __init__(self, accounts: AccountStore, settings: Settings) -> None:
        self.accounts = accounts
        self.settings = settings
        self.key = derive_key(settings.secrets.key("characters_link"), GM_TICKET_LABEL)

    @rpc("gm_ticket", roles=("player",))
    async def gm_ticket(self, conn: RpcConnection) -> GMEntry:
        """The GM port's address and a single-use ticket for it, for gm and admin accounts only."""
        assert conn.identity is not None and conn.identity.account_id is not None
        # The role is read now, not at login: a demoted GM gets no more tickets.
        account = await self.accounts.get(conn.identity.account_id)
        if account is None or account.role not in GM_ROLES:
            raise RpcError("forbidden", "this account is not a game master")
        ticket = issue_ticket(
            self.key,
            kind=GM_TICKET_KIND,
            account_id=account.id,
            account_name=account.name,
            destination=GM_TICKET_DESTINATION,
            ttl_s=self.settings.server.master.ticket_ttl_s,
        )
        gm = self.settings.server.gm
        return GMEntry(gm.host, gm.port, ticket)
