"""A small HTTP endpoint on aiohttp: start an application on host:port (0 = any free port), stop it.

Every shardkit process that speaks HTTP (a ``/metrics`` endpoint, the master's status page,
the web process) goes through :class:`HttpEndpoint`, so they all behave alike: no access log
(request lines are peer text), no ``Server`` header naming versions, ``nosniff`` and
``no-store`` on every response, and a clean stop.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from aiohttp import web

__all__ = ["HttpEndpoint", "common_headers"]

log = logging.getLogger("shardkit.http")

SHUTDOWN_TIMEOUT_S = 5.0
"""How long a stopping endpoint lets requests (and WebSockets) in progress finish."""


async def common_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Headers every response gets (an ``on_response_prepare`` signal)."""
    response.headers.pop("Server", None)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")


class HttpEndpoint:
    """One aiohttp application listening on one address; ``port`` is known once started."""

    def __init__(self, app: web.Application) -> None:
        app.on_response_prepare.append(common_headers)
        self.app = app
        self.host = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                    backlog: int = 1024) -> int:
        """Listen on host:port (0: any free port); returns the port. Raises OSError if taken."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                               shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context, backlog=backlog)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address: Any = runner.addresses[0]
        self.host, self.port = host, int(address[1])
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
