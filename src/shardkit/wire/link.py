"""A service's outgoing link to a peer: dials, authenticates, re-dials with back-off when it drops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shardkit.runtime.peerlog import quote
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import ConnectionClosed, Limits, Router, RpcConnection, RpcError, connect

log = logging.getLogger("shardkit.link")


class ServiceLink:
    """Keeps one authenticated connection to ``host:port`` up for as long as it runs.

    ``on_up(conn)`` runs after every (re)connect, before callers are let through, so
    a daemon can re-announce its world to a master that restarted.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        role: str,
        name: str,
        secret: bytes,
        peer_role: str,
        router: Router | None = None,
        on_up: Callable[[RpcConnection], Awaitable[None]] | None = None,
        limits: Limits | None = None,
        max_backoff_s: float = 3.0,
    ) -> None:
        self.host, self.port = host, port
        self._role, self._name, self._secret, self._peer_role = role, name, secret, peer_role
        self._router = router
        self._on_up = on_up
        self._limits = limits
        self._max_backoff = max_backoff_s
        self.conn: RpcConnection | None = None
        self.up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def target(self) -> str:
        return f"{self._peer_role} at {self.host}:{self.port}"

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"link to {self.target}")

    async def _run(self) -> None:
        delay = 0.1
        announced_down = False
        while not self._stopping:
            try:
                conn = await connect(self.host, self.port, self._router, limits=self._limits)
            except (TimeoutError, OSError) as exc:
                if not announced_down:
                    log.warning("cannot reach %s (%s); retrying", self.target, exc)
                    announced_down = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            try:
                await authenticate_service(
                    conn, role=self._role, name=self._name, secret=self._secret,
                    peer_role=self._peer_role,
                )
                if self._on_up is not None:
                    await self._on_up(conn)
            except RpcError as exc:
                log.error("link to %s refused: %s", self.target, quote(str(exc), 400))
                conn.close(str(exc))
                await asyncio.sleep(self._max_backoff)
                continue
            except Exception:
                log.exception("setting up the link to %s failed", self.target)
                conn.close("link setup failed")
                await asyncio.sleep(self._max_backoff)
                continue
            log.info("linked to %s", self.target)
            announced_down = False
            delay = 0.1
            self.conn = conn
            self.up.set()
            await conn.wait_closed()
            self.up.clear()
            self.conn = None
            if not self._stopping:
                log.warning("lost link to %s: %s", self.target, quote(conn.close_reason, 400))

    async def call(self, method: str, *params: Any, wait_s: float = 10.0) -> Any:
        """Call over the link, waiting up to ``wait_s`` for it to be up."""
        if not self.up.is_set():
            try:
                await asyncio.wait_for(self.up.wait(), wait_s)
            except TimeoutError:
                raise RpcError("unavailable", f"no link to {self.target}") from None
        conn = self.conn
        if conn is None:
            raise ConnectionClosed(f"no link to {self.target}")
        return await conn.call(method, *params)

    def notify(self, method: str, *params: Any) -> bool:
        conn = self.conn
        if conn is None:
            return False
        conn.notify(method, *params)
        return True

    async def stop(self) -> None:
        self._stopping = True
        if self.conn is not None:
            self.conn.close("shutting down")
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
