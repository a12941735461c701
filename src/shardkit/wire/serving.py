"""Listening on a port and dialling one: each accepted or opened socket becomes an RpcConnection."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shardkit.wire.connection import RpcConnection
from shardkit.wire.goodbye import say_goodbye
from shardkit.wire.limits import ANONYMOUS_LIMITS, PLAYER_LIMITS, READ_CHUNK, Limits
from shardkit.wire.methods import Router

__all__ = ["LISTEN_BACKLOG", "RpcServer", "connect", "listen_backlog", "serve"]


@dataclass
class RpcServer:
    """A listening port whose connections share one router."""

    server: asyncio.Server
    connections: set[RpcConnection] = field(default_factory=set)

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        for conn in list(self.connections):
            say_goodbye(conn, "the server")
            conn.close("server shutting down")
        await self.server.wait_closed()


LISTEN_BACKLOG = 4096
"""Connections the kernel may queue for ``accept`` per port (a crowd logging in at once)."""


def listen_backlog(wanted: int = LISTEN_BACKLOG) -> int:
    """``wanted``, capped by the kernel's own cap (``net.core.somaxconn``) where it can be read."""
    try:
        with open("/proc/sys/net/core/somaxconn") as cap_file:
            cap = int(cap_file.read().strip())
    except (OSError, ValueError):
        return wanted
    return max(1, min(wanted, cap))


async def serve(
    host: str,
    port: int,
    router: Router,
    *,
    limits: Limits | None = None,
    anonymous_limits: Limits | None = None,
    on_connect: Callable[[RpcConnection], Any] | None = None,
    ssl: Any = None,
    require_auth: bool = True,
) -> RpcServer:
    """Listen on host:port; each connection is an RpcConnection dispatching into ``router``.

    A connection is bounded by ``anonymous_limits`` (default ``ANONYMOUS_LIMITS``) until it
    authenticates and by ``limits`` (default ``PLAYER_LIMITS``) after; a service handshake
    lifts both to ``SERVICE_LIMITS``. With ``require_auth`` a connection that has not
    authenticated within ``anonymous_limits.auth_timeout_s`` is closed.
    """
    limits = limits or PLAYER_LIMITS
    anonymous_limits = anonymous_limits or ANONYMOUS_LIMITS
    holder: list[RpcServer] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = RpcConnection(
            reader, writer, router, limits=limits, anonymous_limits=anonymous_limits
        )
        rpc_server = holder[0]
        rpc_server.connections.add(conn)
        conn.on_close(rpc_server.connections.discard)
        watchdog = None
        if require_auth:
            watchdog = asyncio.get_running_loop().call_later(
                anonymous_limits.auth_timeout_s, _close_if_anonymous, conn
            )
        try:
            if on_connect is not None:
                result = on_connect(conn)
                if inspect.isawaitable(result):
                    await result
            await conn.serve()
        finally:
            if watchdog is not None:
                watchdog.cancel()

    # ``limit`` is the StreamReader's buffer: past twice that it stops reading the socket,
    # so a connection whose read loop waits (work in flight at its bound) holds little.
    server = await asyncio.start_server(
        handle, host, port, ssl=ssl, limit=READ_CHUNK, backlog=listen_backlog()
    )
    holder.append(RpcServer(server))
    return holder[0]


def _close_if_anonymous(conn: RpcConnection) -> None:
    if conn.identity is None:
        conn._fatal("auth_timeout", "no authentication in time")


async def connect(
    host: str,
    port: int,
    router: Router | None = None,
    *,
    limits: Limits | None = None,
    ssl: Any = None,
    timeout: float = 5.0,
    local_addr: tuple[str, int] | None = None,
) -> RpcConnection:
    """Open a connection and start its read loop (bounded by ``limits``, or DIALLED_LIMITS)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl, local_addr=local_addr, limit=READ_CHUNK),
        timeout,
    )
    conn = RpcConnection(reader, writer, router, limits=limits)
    conn.start()
    return conn
