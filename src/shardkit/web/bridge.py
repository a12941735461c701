"""One bridge link: a browser's WebSocket and a TCP connection to one cluster server, carrying the
same MessagePack-RPC messages both ways (one WebSocket binary message = one message).

Guarantees of a link:

- From the browser: a WebSocket message larger than ``max_message_bytes`` closes the link
  (1009); one that is not exactly one whole MessagePack object closes it (1007), so the
  server's stream only ever gets whole messages, each as the browser sent it; a text message
  closes it (1003).
- From the server: the TCP stream is cut into messages by the wire's own framer
  (``wire.framing.FrameSplitter``), each at most ``max_server_message_bytes`` (else 1009),
  and each is passed on as it came, undecoded (only a few answers are read, by
  ``targets.HandOutWatch``, to learn addresses the cluster handed out).
- In flight: each direction holds at most about ``max_in_flight_bytes`` (the TCP write
  buffer's high-water mark one way, the WebSocket writer's limit the other) plus one read;
  past that it stops reading, so a slow reader slows its own link only, and the server's own
  slow-consumer rule applies to a browser that does not keep up.
- Either side closing closes the other; the WebSocket close code and reason say why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from shardkit.web.logins import LoginWatch
from shardkit.web.metrics import WebMetrics
from shardkit.web.targets import BridgeSession, HandOutWatch, SessionTable
from shardkit.wire.framing import FrameSplitter, MessageTooLarge, StreamError

__all__ = ["BridgeLink", "CloseCode", "LinkLimits"]

log = logging.getLogger("shardkit.web.bridge")

READ_CHUNK = 64 * 1024


class CloseCode:
    """WebSocket close codes the bridge uses (4xxx: the bridge's own, after HTTP's numbers)."""

    NORMAL = 1000  # the server or the browser closed the connection
    GOING_AWAY = 1001  # the web process is stopping
    UNSUPPORTED = 1003  # a text message: the bridge carries binary messages only
    INVALID = 1007  # not exactly one whole MessagePack object in a message
    TOO_BIG = 1009  # a message over the bridge's size limit
    ERROR = 1011  # the server sent something that is not MessagePack
    FORBIDDEN = 4403  # the target is not this cluster's (or not handed out to this session)
    NO_SESSION = 4404  # the session named does not exist (any more)
    IDLE = 4408  # no message either way for idle_timeout_s
    RATE_LIMITED = 4429  # too many new sessions from this address; the reason says when to retry
    UNREACHABLE = 4502  # the target did not accept the connection


@dataclass(frozen=True)
class LinkLimits:
    max_message_bytes: int
    max_server_message_bytes: int
    max_in_flight_bytes: int


class BridgeLink:
    """Pumps one WebSocket and one TCP connection into each other until either ends."""

    def __init__(self, ws: web.WebSocketResponse, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, *, kind: str, session: BridgeSession,
                 sessions: SessionTable, limits: LinkLimits, metrics: WebMetrics) -> None:
        self.ws = ws
        self.reader = reader
        self.writer = writer
        self.kind = kind
        self.session = session
        self.sessions = sessions
        self.limits = limits
        self.watch = HandOutWatch(kind)
        self.logins = LoginWatch() if kind == "master" else None
        self._ending: tuple[int, str] | None = None
        self._tasks: list[asyncio.Task[tuple[int, str]]] = []
        self._up_messages = metrics.messages.labels("up")
        self._up_bytes = metrics.bytes.labels("up")
        self._down_messages = metrics.messages.labels("down")
        self._down_bytes = metrics.bytes.labels("down")
        transport = writer.transport
        transport.set_write_buffer_limits(high=limits.max_in_flight_bytes)

    def close_link(self, code: int, reason: str) -> None:
        """End the link from outside (idle session, shutdown): both pumps stop, both sides close."""
        if self._ending is None:
            self._ending = (code, reason)
        for task in self._tasks:
            task.cancel()

    async def run(self) -> int:
        """Pump until either side ends; returns the WebSocket close code sent."""
        self._tasks = [asyncio.create_task(self._browser_to_target()),
                       asyncio.create_task(self._target_to_browser())]
        if self._ending is not None:  # closed before it ran
            self.close_link(*self._ending)
        try:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if self._ending is None and not task.cancelled():
                    self._ending = task.result()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self.writer.close()
        code, reason = self._ending or (CloseCode.NORMAL, "closed")
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.close(code=code, message=reason.encode()[:120])
        return self.ws.close_code or code

    async def _browser_to_target(self) -> tuple[int, str]:
        ws, writer = self.ws, self.writer
        limit = self.limits.max_message_bytes
        splitter = FrameSplitter(2 * limit)
        try:
            while True:
                message = await ws.receive()
                if message.type == WSMsgType.BINARY:
                    data: bytes = message.data
                    try:
                        frames = splitter.feed(data, limit)
                    except MessageTooLarge:
                        return CloseCode.TOO_BIG, f"a message is limited to {limit} bytes"
                    except StreamError:
                        return CloseCode.INVALID, "a message must be MessagePack"
                    if len(frames) != 1 or splitter.pending_bytes:
                        return CloseCode.INVALID, "send one whole MessagePack-RPC message per message"
                    self.watch.browser_sent(data)
                    if self.logins is not None:
                        self.logins.browser_sent(data)
                    writer.write(data)
                    self._up_messages.inc()
                    self._up_bytes.inc(len(data))
                    self.sessions.touch(self.session)
                    await writer.drain()
                elif message.type == WSMsgType.TEXT:
                    return CloseCode.UNSUPPORTED, "send MessagePack-RPC in binary messages"
                elif message.type == WSMsgType.ERROR:
                    error = ws.exception()
                    if isinstance(error, WebSocketError) and \
                            error.code == WSCloseCode.MESSAGE_TOO_BIG:
                        return CloseCode.TOO_BIG, f"a message is limited to {limit} bytes"
                    return CloseCode.INVALID, "bad WebSocket frame"
                else:  # CLOSE, CLOSING, CLOSED
                    return CloseCode.NORMAL, "the browser closed the connection"
        except (ConnectionError, OSError):
            return CloseCode.NORMAL, "the server closed the connection"

    async def _target_to_browser(self) -> tuple[int, str]:
        ws, reader = self.ws, self.reader
        limit = self.limits.max_server_message_bytes
        splitter = FrameSplitter(limit + READ_CHUNK)
        watch, sessions, session, logins = self.watch, self.sessions, self.session, self.logins
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    return CloseCode.NORMAL, "the server closed the connection"
                try:
                    frames = splitter.feed(data, limit)
                except MessageTooLarge:
                    log.warning("a %s server sent a message over %d bytes; link closed",
                                self.kind, limit)
                    return CloseCode.TOO_BIG, "the server sent a message too big for the bridge"
                except StreamError:
                    return CloseCode.ERROR, "the server sent something that is not MessagePack"
                for frame in frames:
                    handed_out = watch.server_sent(frame)
                    if handed_out is not None:
                        sessions.grant(session, *handed_out)
                    if logins is not None and (account := logins.server_sent(frame)):
                        sessions.logged_in(session, self, account)
                    await ws.send_bytes(frame)
                    self._down_messages.inc()
                    self._down_bytes.inc(len(frame))
                sessions.touch(session)
        except (ConnectionError, OSError):
            return CloseCode.NORMAL, "the connection was lost"
