"""A tiny HTTP/1.1 responder for the status page and /metrics: GET and HEAD only, bounded and timed out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from http import HTTPStatus

from shardkit.runtime.peerlog import quote

__all__ = ["Route", "StatusHttpServer"]

log = logging.getLogger("shardkit.master.http")

Route = Callable[[], tuple[str, bytes]]
"""Makes one page: (content type, body)."""


class StatusHttpServer:
    """Serves fixed paths; every response closes the connection (no keep-alive, no request body)."""

    def __init__(self, routes: dict[str, Route], *, read_timeout_s: float = 5.0,
                 max_request_bytes: int = 8192, max_connections: int = 64) -> None:
        self.routes = routes
        self.read_timeout_s = read_timeout_s
        self.max_request_bytes = max_request_bytes
        self.max_connections = max_connections
        self.port = 0
        self._server: asyncio.Server | None = None
        self._active = 0

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port); returns the port."""
        self._server = await asyncio.start_server(
            self._handle, host, port, limit=self.max_request_bytes
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._active += 1
        try:
            if self._active > self.max_connections:
                self._respond(writer, HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", b"busy\n")
            else:
                await self._serve_one(reader, writer)
            await asyncio.wait_for(writer.drain(), self.read_timeout_s)
        except (ConnectionError, TimeoutError):
            pass
        finally:
            self._active -= 1
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.read_timeout_s)
        except asyncio.LimitOverrunError:
            self._respond(writer, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "text/plain",
                          b"request too large\n")
            return
        except (asyncio.IncompleteReadError, TimeoutError):
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._respond(writer, HTTPStatus.BAD_REQUEST, "text/plain", b"bad request\n")
            return
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            self._respond(writer, HTTPStatus.METHOD_NOT_ALLOWED, "text/plain",
                          b"GET or HEAD only\n", extra="Allow: GET, HEAD\r\n")
            return
        route = self.routes.get(target.split("?", 1)[0])
        if route is None:
            self._respond(writer, HTTPStatus.NOT_FOUND, "text/plain", b"not found\n",
                          head_only=method == "HEAD")
            return
        try:
            content_type, body = route()
        except Exception:
            log.exception("status page %s failed", quote(target))
            self._respond(writer, HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain", b"error\n")
            return
        self._respond(writer, HTTPStatus.OK, content_type, body, head_only=method == "HEAD")

    @staticmethod
    def _respond(writer: asyncio.StreamWriter, status: HTTPStatus, content_type: str,
                 body: bytes, *, head_only: bool = False, extra: str = "") -> None:
        header = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            f"{extra}"
            "Connection: close\r\n\r\n"
        )
        writer.write(header.encode("latin-1") + (b"" if head_only else body))
