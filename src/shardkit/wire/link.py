"""Links between services: one we dial (re-dialled with back-off) or one a peer dials in to us.

Either kind holds at most one authenticated connection at a time; a call waits a few seconds
for it to be up, so a peer that restarts costs its callers a short wait, not an error.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.wire.goodbye import say_goodbye
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import ConnectionClosed, Limits, Router, RpcConnection, RpcError, connect

log = logging.getLogger("shardkit.link")

T = TypeVar("T")


class Link:
    """The connection to one peer while it is up: calls wait up to ``wait_s`` for it."""

    def __init__(self, *, wait_s: float = 10.0) -> None:
        self.conn: RpcConnection | None = None
        self.up = asyncio.Event()
        self._wait_s = wait_s

    @property
    def target(self) -> str:
        return "the peer"

    def _unavailable(self) -> RpcError:
        return RpcError("unavailable", f"no link to {self.target}")

    async def connection(self, wait_s: float | None = None) -> RpcConnection:
        """The connection once it is up; ``unavailable`` if it is not up within the wait."""
        if not self.up.is_set():
            try:
                await asyncio.wait_for(self.up.wait(), self._wait_s if wait_s is None else wait_s)
            except TimeoutError:
                raise self._unavailable() from None
        conn = self.conn
        if conn is None:
            raise ConnectionClosed(f"no link to {self.target}")
        return conn

    async def call(self, method: str, *params: Any, wait_s: float | None = None) -> Any:
        """Call over the link, waiting up to ``wait_s`` (default the link's) for it to be up."""
        conn = self.conn
        if conn is None or not self.up.is_set():
            conn = await self.connection(wait_s)
        return await conn.call(method, *params)

    async def call_as(self, result_type: type[T], method: str, *params: Any) -> T:
        """Call over the link and convert the result into ``result_type``."""
        return msgspec.convert(await self.call(method, *params), result_type)

    def notify(self, method: str, *params: Any) -> bool:
        """Send a notification if the link is up; False (nothing sent) if it is not."""
        conn = self.conn
        if conn is None:
            return False
        conn.notify(method, *params)
        return True


class InboundLink(Link):
    """The connection a peer keeps dialled in to one of our ports (e.g. the character server's).

    ``attach`` is what the port's ``ServiceAuth`` calls once the peer authenticated: a newer
    connection replaces an older one (which is closed), and ``on_up(conn)`` runs before callers
    are let through, as ``ServiceLink``'s does.
    """

    def __init__(
        self,
        name: str,
        *,
        on_up: Callable[[RpcConnection], Awaitable[None] | None] | None = None,
        wait_s: float = 10.0,
    ) -> None:
        super().__init__(wait_s=wait_s)
        self.name = name
        self._on_up = on_up

    @property
    def target(self) -> str:
        return self.name

    def _unavailable(self) -> RpcError:
        return RpcError("unavailable", f"{self.name} is not connected")

    def attach(self, conn: RpcConnection) -> None:
        """Make ``conn`` the link (after its handshake); callers wait until ``on_up`` is done."""
        old = self.conn
        if old is not None and old is not conn:
            old.close(f"replaced by a newer link from {self.name}")
        self.conn = conn
        self.up.clear()
        log.info("%s linked from %s", self.name, conn.peer_ip)
        conn.on_close(self._gone)
        background(self._set_up(conn))

    async def _set_up(self, conn: RpcConnection) -> None:
        if self._on_up is not None:
            try:
                result = self._on_up(conn)
                if inspect.isawaitable(result):
                    await result
            except RpcError as exc:
                log.error("setting up the link from %s failed: %s", self.name, quote(str(exc), 400))
                conn.close("link setup failed")
                return
        if self.conn is conn and not conn.closed.is_set():
            self.up.set()

    def _gone(self, conn: RpcConnection) -> None:
        if self.conn is conn:
            self.conn = None
            self.up.clear()
            if conn.said_goodbye:
                log.info("%s link closed: we are stopping", self.name)
            elif conn.peer_stopping:
                log.info("%s stopped (planned); the link waits for it", self.name)
            else:
                log.warning("%s link lost", self.name)


class ServiceLink(Link):
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
        wait_s: float = 10.0,
    ) -> None:
        super().__init__(wait_s=wait_s)
        self.host, self.port = host, port
        self._role, self._name, self._secret, self._peer_role = role, name, secret, peer_role
        self._router = router
        self._on_up = on_up
        self._limits = limits
        self._max_backoff = max_backoff_s
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
        peer_stopped = False  # the last connection ended with the peer's goodbye
        while not self._stopping:
            try:
                conn = await connect(self.host, self.port, self._router, limits=self._limits)
            except (TimeoutError, OSError) as exc:
                if not announced_down:
                    log.log(logging.INFO if peer_stopped else logging.WARNING,
                            "cannot reach %s (%s); retrying", self.target, exc)
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
            peer_stopped = conn.peer_stopping
            if peer_stopped and not self._stopping:
                log.info("%s stopped (planned); re-dialling", self.target)
            elif not self._stopping:
                log.warning("lost link to %s: %s", self.target, quote(conn.close_reason, 400))

    async def stop(self) -> None:
        self._stopping = True
        if self.conn is not None:
            say_goodbye(self.conn, self._name)
            self.conn.close("shutting down")
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
