"""In-process connection pairs over ``socket.socketpair()``: services tested without a cluster."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from shardkit.wire.rpc import (
    DIALLED_LIMITS,
    PLAYER_LIMITS,
    Identity,
    Limits,
    Router,
    RpcConnection,
)


@dataclass
class LoopbackPair:
    """Two ends of one real stream socket: ``server`` dispatches into the services under test,
    ``client`` is what a test calls them through (and what receives their notifications)."""

    server: RpcConnection
    client: RpcConnection

    def close(self) -> None:
        self.client.close("test done")
        self.server.close("test done")


async def open_loopback(
    server_router: Router,
    client_router: Router | None = None,
    *,
    identity: Identity | None = None,
    server_limits: Limits = PLAYER_LIMITS,
    client_limits: Limits = DIALLED_LIMITS,
) -> LoopbackPair:
    """Connect a client to ``server_router`` over a socketpair; both read loops run.

    ``identity`` marks the server's end as already authenticated (as a handshake would), so a
    test of a service's methods need not repeat the handshake; leave it None to test the
    handshake itself.
    """
    server_sock, client_sock = socket.socketpair()
    server_reader, server_writer = await asyncio.open_connection(sock=server_sock)
    client_reader, client_writer = await asyncio.open_connection(sock=client_sock)
    server = RpcConnection(server_reader, server_writer, server_router, limits=server_limits,
                           label="loopback server")
    client = RpcConnection(client_reader, client_writer, client_router, limits=client_limits,
                           label="loopback client")
    server.identity = identity
    server.start()
    client.start()
    return LoopbackPair(server, client)


@asynccontextmanager
async def loopback(
    server_router: Router,
    client_router: Router | None = None,
    *,
    identity: Identity | None = None,
    server_limits: Limits = PLAYER_LIMITS,
    client_limits: Limits = DIALLED_LIMITS,
) -> AsyncIterator[LoopbackPair]:
    """``open_loopback`` as a context manager that closes both ends after the test."""
    pair = await open_loopback(server_router, client_router, identity=identity,
                               server_limits=server_limits, client_limits=client_limits)
    try:
        yield pair
    finally:
        pair.close()
        await asyncio.gather(pair.server.wait_closed(), pair.client.wait_closed())
