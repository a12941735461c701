"""World tickets on a WorldServer: checked here, spent once for the whole world by the daemon."""

from __future__ import annotations

import time
from collections.abc import Callable

from shardkit.daemon.api import DaemonApi
from shardkit.daemon.schemas import SpendTicket
from shardkit.wire.peers import Peer
from shardkit.wire.rpc import RpcError
from shardkit.wire.tickets import Ticket, check_ticket

PURGE_AT = 1024  # tickets spent here remembered before the expired ones are forgotten


class WorldTickets:
    """Admits a ticket the master signed for this WorldServer (``<world>/<cluster>``), once.

    The signature, kind, destination and expiry are checked here; whether it was used is the
    daemon's to say (``spend_ticket``), so a ticket spent on one WorldServer of the world is
    refused on every other, and a ticket for another WorldServer is refused here. What was
    spent here is remembered here too, so a restarted daemon (whose book starts empty) does
    not let this WorldServer take a ticket twice.
    """

    def __init__(self, key: bytes, daemon: Peer, name: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._daemon = DaemonApi(daemon)
        self.name = name
        self._clock = clock
        self._spent: dict[bytes, float] = {}  # nonce -> expiry, of tickets spent here

    async def redeem(self, token: bytes) -> Ticket:
        """The ticket, now spent; raises RpcError (bad_ticket, ticket_expired, ticket_used)."""
        now = self._clock()
        ticket = check_ticket(self._key, token, kind="world", destination=self.name, now=now)
        if ticket.nonce in self._spent:
            raise RpcError("ticket_used", "ticket was already used")
        await self._daemon.spend_ticket(SpendTicket(ticket.nonce, self.name, ticket.expires_at))
        if len(self._spent) >= PURGE_AT:
            self._spent = {n: exp for n, exp in self._spent.items() if exp >= now}
        self._spent[ticket.nonce] = ticket.expires_at
        return ticket
