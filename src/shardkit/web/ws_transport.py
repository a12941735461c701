"""Python programs through the web bridge: an RpcConnection whose messages travel over WebSocket.

The way a browser goes, from Python: ``BridgeDialer.dial`` opens a bridge link and returns an
ordinary :class:`~shardkit.wire.rpc.RpcConnection`, so the same client code (``GameClient``
with ``dial=dialer.dial``) logs in with SCRAM, enters a world and plays over the bridge. Used
by tests, and by load bots that should measure the bridge too.

The connection runs over a local socket pair; a pump moves each whole message between the
socket and the WebSocket (framed by ``wire.framing.FrameSplitter``, one message per
WebSocket message), just as the bridge does on its side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

import aiohttp

from shardkit.web.targets import Address
from shardkit.wire.framing import FrameSplitter
from shardkit.wire.rpc import DIALLED_LIMITS, Router, RpcConnection

__all__ = ["BridgeDialer", "BridgeRefused"]

READ_CHUNK = 64 * 1024
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class BridgeRefused(ConnectionError):
    """The bridge closed the WebSocket instead of opening the link (close code and reason)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"bridge refused the link ({code}): {reason}")
        self.code = code
        self.reason = reason


class BridgeDialer:
    """Opens bridge links for one bridge session (the first link, to the master, starts it)."""

    def __init__(self, url: str, http: aiohttp.ClientSession, *, timeout: float = 10.0) -> None:
        self.url = url  # "ws://127.0.0.1:8080/ws"
        self.http = http
        self.timeout = timeout
        self.session: str | None = None
        self.kinds: list[str] = []  # the kind of each link opened ("master", "world", "zone")
        self.closes: list[tuple[int | None, str]] = []  # how each link's WebSocket closed
        self._pumps: set[asyncio.Task[None]] = set()

    async def open(self, target: str) -> aiohttp.ClientWebSocketResponse:
        """A bridge link to ``target`` ("master" or "HOST:PORT"), past the bridge's notice."""
        params = {"target": target}
        if self.session is not None:
            params["session"] = self.session
        ws = await self.http.ws_connect(self.url, params=params, max_msg_size=MAX_MESSAGE_BYTES,
                                        timeout=aiohttp.ClientWSTimeout(ws_close=self.timeout))
        notice = await ws.receive(timeout=self.timeout)
        if notice.type != aiohttp.WSMsgType.TEXT:
            await ws.close()
            raise BridgeRefused(ws.close_code, str(notice.extra or ""))
        info: dict[str, Any] = json.loads(notice.data)
        self.session = str(info["session"])
        self.kinds.append(str(info["kind"]))
        return ws

    async def dial(self, host: str, port: int, router: Router | None = None) -> RpcConnection:
        """Like ``wire.rpc.connect``, through the bridge (a GameClient's ``dial``)."""
        ws = await self.open(str(Address(host, port)))
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=ours, limit=READ_CHUNK)
        conn = RpcConnection(reader, writer, router, limits=DIALLED_LIMITS,
                             label=f"bridge to {host}:{port}")
        conn.start()
        pump = asyncio.create_task(self._pump(ws, theirs))
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        return conn

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse, sock: socket.socket) -> None:
        reader, writer = await asyncio.open_connection(sock=sock, limit=READ_CHUNK)

        async def to_bridge() -> None:
            splitter = FrameSplitter(MAX_MESSAGE_BYTES + READ_CHUNK)
            while data := await reader.read(READ_CHUNK):
                for frame in splitter.feed(data, MAX_MESSAGE_BYTES):
                    await ws.send_bytes(frame)

        async def from_bridge() -> None:
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.BINARY:
                    writer.write(message.data)
                    await writer.drain()
                elif message.type != aiohttp.WSMsgType.TEXT:  # closed (or broken)
                    self.closes.append((ws.close_code, str(message.extra or "")))
                    return

        tasks = [asyncio.create_task(to_bridge()), asyncio.create_task(from_bridge())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await ws.close()
            writer.close()

    async def close(self) -> None:
        """Stop every pump (their links close)."""
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
