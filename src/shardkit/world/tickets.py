"""World tickets on a WorldServer: checked here, spent once for the whole world by the daemon."""

from __future__ import annotations

import time
from collections.abc import Callable

from shardkit.daemon.api import DaemonApi
from shardkit.daemon.schemas import SpendTicket
from shardkit.wire.peers import Peer
from shardkit.wire.tickets import Ticket, check_ticket


class WorldTickets:
    """Admits a ticket the master signed for this WorldServer (``<world>/<cluster>``), once.

    The signature, kind, destination and expiry are checked here; whether it was used is the
    daemon's to say (``spend_ticket``), so a ticket spent on one WorldServer of the world is
    refused on every other, and a ticket for another WorldServer is refused here.
    """

    def __init__(self, key: bytes, daemon: Peer, name: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._daemon = DaemonApi(daemon)
        self.name = name
        self._clock = clock

    async def redeem(self, token: bytes) -> Ticket:
        """The ticket, now spent; raises RpcError (bad_ticket, ticket_expired, ticket_used)."""
        ticket = check_ticket(self._key, token, kind="world", destination=self.name,
                              now=self._clock())
        await self._daemon.spend_ticket(SpendTicket(ticket.nonce, self.name, ticket.expires_at))
        return ticket
