"""The world's book of spent world tickets: each is redeemed once, on the WorldServer it names."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from shardkit.daemon.schemas import SpendTicket
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import RpcConnection, RpcError, rpc

log = logging.getLogger("shardkit.daemon")

NONCE_MAX_BYTES = 64
PURGE_AT = 4096  # spent tickets remembered before the expired ones are forgotten
MAX_SPENT = 1_000_000  # beyond this (all unexpired) the world refuses logins rather than grow


class TicketBook:
    """Port 7000's ``spend_ticket``: the only place a world ticket is marked used.

    A WorldServer checks a ticket's signature, kind, destination and expiry itself, then asks
    the daemon to spend it; the daemon accepts a nonce once for the whole world (every
    WorldServer's logins pass through here) and only from the WorldServer the ticket names.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._spent: dict[bytes, float] = {}

    def __len__(self) -> int:
        return len(self._spent)

    @rpc("spend_ticket", SpendTicket, roles=("world",))
    def spend_ticket(self, conn: RpcConnection, p: SpendTicket) -> Ok:
        """Mark a world ticket used; ``ticket_used`` if any WorldServer of the world spent it."""
        assert conn.identity is not None
        if p.destination != conn.identity.name:
            log.warning("world server %s tried to spend a ticket for %s",
                        quote(conn.identity.name), quote(p.destination))
            raise RpcError("bad_ticket", f"ticket is for {quote(p.destination, 80)},"
                                         f" not {quote(conn.identity.name, 80)}")
        if not 0 < len(p.nonce) <= NONCE_MAX_BYTES:
            raise RpcError("bad_params", f"`nonce` must be 1 to {NONCE_MAX_BYTES} bytes")
        self.spend(p.nonce, p.expires_at)
        return Ok()

    def spend(self, nonce: bytes, expires_at: float) -> None:
        now = self._clock()
        if expires_at < now:
            raise RpcError("ticket_expired", "ticket has expired; ask for a new one")
        if nonce in self._spent:
            raise RpcError("ticket_used", "ticket was already used")
        if len(self._spent) >= PURGE_AT:
            self._spent = {n: exp for n, exp in self._spent.items() if exp >= now}
            if len(self._spent) >= MAX_SPENT:
                raise RpcError("unavailable", "too many logins at once; try again shortly")
        self._spent[nonce] = expires_at
