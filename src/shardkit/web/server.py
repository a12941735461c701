"""The web process (``shardkit web``): static pages and the WebSocket bridge at ``/ws``.

A browser opens ``ws(s)://HOST:PORT/ws?target=master`` (or ``target=HOST:PORT&session=TOKEN``
for an address the cluster handed out; see ``web.targets``) and then speaks the cluster's
MessagePack-RPC, one message per binary WebSocket message (``web.bridge``). docs/protocol.md,
"Browsers: the WebSocket bridge", is the reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from pathlib import Path

from aiohttp import web

from shardkit.config.settings import ConfigError, Settings
from shardkit.master.forwarding import forward_key
from shardkit.runtime.http import HttpEndpoint
from shardkit.runtime.main import announce
from shardkit.runtime.peerlog import PeerLog, quote
from shardkit.up import METRICS_TARGETS_FILE
from shardkit.web.bridge import BridgeLink, CloseCode, LinkLimits
from shardkit.web.cluster_watch import ClusterWatch
from shardkit.web.dashboard import Dashboard
from shardkit.web.forwarding import ForwardRefused, forward_address
from shardkit.web.metrics import WebMetrics
from shardkit.web.targets import (
    MASTER,
    Address,
    BridgeSession,
    LinkCounter,
    SessionTable,
    ip_group,
    parse_target,
    valid_address,
)
from shardkit.wire.throttle import KeyedThrottle

__all__ = ["WebServer", "tls_context"]

log = logging.getLogger("shardkit.web")
peer_log = PeerLog(log)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SWEEP_INTERVAL_S = 1.0
HEARTBEAT_S = 30.0  # WebSocket pings: a browser that vanished is noticed within a minute


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The web port's TLS context from ``[web] tls_cert``/``tls_key`` (None: plain HTTP)."""
    cfg = settings.server.web
    if not cfg.tls_cert and not cfg.tls_key:
        return None
    if not (cfg.tls_cert and cfg.tls_key):
        raise ConfigError("[web] tls_cert and tls_key go together: set both, or neither")
    cert, key = (p if Path(p).is_absolute() else settings.root / p
                 for p in (cfg.tls_cert, cfg.tls_key))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[web] cannot load tls_cert {cert} / tls_key {key}: {exc}") from None
    return context


class WebServer:
    """Serves static files and bridges browsers' WebSockets to the cluster's ports."""

    def __init__(self, settings: Settings, *, forward_addresses: bool = True) -> None:
        """``forward_addresses``: name each browser's address to the master (False only for
        a stand-in master that does not speak ``bridge_forward``)."""
        self.settings = settings
        cfg = settings.server.web
        self.cfg = cfg
        master = valid_address(settings.server.master.host, settings.server.master.port)
        if master is None:
            raise ConfigError("[master] host/port is not an address the bridge can dial")
        self.master = master
        self.static_dir = (Path(cfg.static_dir) if Path(cfg.static_dir).is_absolute()
                           else settings.root / cfg.static_dir) if cfg.static_dir else STATIC_DIR
        self.sessions = SessionTable(master, idle_timeout_s=cfg.idle_timeout_s,
                                     linger_s=cfg.session_linger_s, max_sessions=cfg.max_links)
        self.new_sessions = KeyedThrottle(cfg.sessions_per_s, cfg.sessions_burst)
        self.links = LinkCounter(cfg.max_links_per_ip, cfg.max_links)
        self.limits = LinkLimits(cfg.max_message_bytes, cfg.max_server_message_bytes,
                                 cfg.max_in_flight_bytes)
        self.metrics = WebMetrics()
        self.metrics.live_gauge("shardkit_web_bridge_sessions", "Bridge sessions kept now.",
                                lambda: {(): len(self.sessions)})
        self.metrics.live_gauge("shardkit_web_bridge_links_open", "Bridge links open now.",
                                lambda: {(): self.links.total})
        self.forward_key = (forward_key(settings.secrets.key("master_link"))
                            if forward_addresses else None)
        status = settings.server.master
        self.watch = ClusterWatch(
            settings.data_dir / METRICS_TARGETS_FILE,
            f"{status.status_host}:{status.status_port}" if status.status_port else None)
        self.dashboard = Dashboard(self.watch, self.sessions, self.static_dir)
        self.port = 0
        self._open: set[BridgeLink] = set()

    # ------------------------------------------------------------------ app
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws", self.bridge)
        app.router.add_get("/healthz", self._healthz)
        self.dashboard.add_routes(app)
        app.router.add_get("/", self._index)
        if self.static_dir.is_dir():
            app.router.add_static("/", self.static_dir, follow_symlinks=False)
        app.on_response_prepare.append(self._page_headers)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _index(self, request: web.Request) -> web.StreamResponse:
        index = self.static_dir / "index.html"
        if not index.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(index)

    @staticmethod
    async def _page_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:;"
            " frame-ancestors 'none'")

    # --------------------------------------------------------------- bridge
    async def bridge(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws?target=...[&session=...]``: one bridge link (see the module docstring)."""
        ip = request.remote or "?"
        origin = request.headers.get("Origin", "")
        if self.cfg.allowed_origins and origin not in self.cfg.allowed_origins:
            self._refused("origin", ip, "origin %s not allowed", quote(origin, 80))
            raise web.HTTPForbidden(text="this page may not use the bridge\n")
        why_not = self.links.take(ip)
        if why_not is not None:
            self._refused("full", ip, "%s", why_not)
            raise web.HTTPServiceUnavailable(text=why_not + "\n")
        try:
            ws = web.WebSocketResponse(
                max_msg_size=self.cfg.max_message_bytes, heartbeat=HEARTBEAT_S, compress=False,
                writer_limit=self.cfg.max_in_flight_bytes)
            await ws.prepare(request)
            await self._bridge(ws, request, ip)
            return ws
        finally:
            self.links.give_back(ip)

    async def _bridge(self, ws: web.WebSocketResponse, request: web.Request, ip: str) -> None:
        query = request.query
        target = parse_target(query.get("target", "")[:300])
        if target is None:
            await self._refuse(ws, "bad_target", ip, CloseCode.FORBIDDEN,
                               "name a target: target=master or target=HOST:PORT")
            return
        token = query.get("session", "")[:64]
        session = self._session(token, ip) if token else None
        if token and session is None:
            await self._refuse(ws, "no_session", ip, CloseCode.NO_SESSION,
                               "no such session (it ended or expired); start again at the master")
            return
        if session is None:
            if target != MASTER and target != self.master:
                await self._refuse(ws, "not_allowed", ip, CloseCode.FORBIDDEN,
                                   "a new session starts at the master")
                return
            bucket = self.new_sessions.bucket(ip_group(ip))
            if not bucket.take():
                wait = max(1, round(bucket.retry_after()))
                await self._refuse(ws, "rate_limited", ip, CloseCode.RATE_LIMITED,
                                   f"too many new sessions; try again in {wait} s")
                return
            session = self.sessions.open(ip)
            if session is None:
                await self._refuse(ws, "full", ip, CloseCode.RATE_LIMITED,
                                   "the bridge is full; try again in 10 s")
                return
        kind = self.sessions.kind_of(session, target)
        if kind is None:
            await self._refuse(ws, "not_allowed", ip, CloseCode.FORBIDDEN,
                               "that address is not one this cluster handed out to the session")
            return
        if len(session.links) >= self.cfg.max_links_per_session:
            await self._refuse(ws, "full", ip, CloseCode.RATE_LIMITED,
                               "too many links in this session; close one first")
            return
        address = self.master if kind == MASTER else target
        assert isinstance(address, Address)
        await self._link(ws, session, kind, address, ip)

    def _session(self, token: str, ip: str) -> BridgeSession | None:
        session = self.sessions.get(token)
        if session is not None and ip_group(session.ip) != ip_group(ip):
            return None  # a token is no use from another address
        return session

    async def _link(self, ws: web.WebSocketResponse, session: BridgeSession, kind: str,
                    address: Address, ip: str) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address.host, address.port, limit=2 * 64 * 1024),
                self.cfg.connect_timeout_s)
        except (OSError, TimeoutError):
            await self._refuse(ws, "unreachable", ip, CloseCode.UNREACHABLE,
                               f"the {kind} server does not answer; try again shortly")
            return
        if kind == MASTER and self.forward_key is not None:
            try:
                await forward_address(reader, writer, self.forward_key, ip,
                                      self.cfg.connect_timeout_s)
            except ForwardRefused as exc:
                writer.close()
                log.warning("the master did not take a forwarded address: %s", exc)
                await self._refuse(ws, "unreachable", ip, CloseCode.UNREACHABLE,
                                   "the master refused the bridge; try again shortly")
                return
        link = BridgeLink(ws, reader, writer, kind=kind, session=session, sessions=self.sessions,
                          limits=self.limits, metrics=self.metrics)
        self.sessions.attach(session, link)
        self._open.add(link)
        self.metrics.links.labels(kind).inc()
        try:
            await ws.send_str(json.dumps({"session": session.token, "kind": kind,
                                          "target": str(address)}))
            code = await link.run()
        finally:
            self._open.discard(link)
            self.sessions.detach(session, link)
        self.metrics.closed.labels(str(code)).inc()

    async def _refuse(self, ws: web.WebSocketResponse, reason: str, ip: str, code: int,
                      text: str) -> None:
        self._refused(reason, ip, "%s", text)
        await ws.close(code=code, message=text.encode()[:120])

    def _refused(self, reason: str, ip: str, message: str, *args: object) -> None:
        self.metrics.refused.labels(reason).inc()
        peer_log.info(ip, f"refused {reason}", "bridge refused %s: " + message, ip, *args)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            for session in self.sessions.sweep():
                for link in list(session.links):
                    link.close_link(CloseCode.IDLE, "idle for too long")

    # ------------------------------------------------------------------ run
    async def run(self, stop: asyncio.Event) -> int:
        cfg = self.cfg
        try:
            context = tls_context(self.settings)
        except ConfigError as exc:
            log.error("%s", exc)
            return 2
        endpoint = HttpEndpoint(self.app())
        self.port = await endpoint.start(cfg.host, cfg.port, ssl_context=context)
        scheme = "https" if context else "http"
        announce(f"web listening on {cfg.host}:{self.port} ({scheme}; bridge at /ws, pages from"
                 f" {self.static_dir})")
        metrics = await self.metrics.serve(self.settings.server.cluster.metrics_host,
                                           cfg.metrics_port, "web")
        sweeper = asyncio.create_task(self._sweep())
        watcher = asyncio.create_task(self.watch.run())
        await stop.wait()
        log.info("web stopping: closing %d bridge links", len(self._open))
        sweeper.cancel()
        watcher.cancel()
        for link in list(self._open):
            link.close_link(CloseCode.GOING_AWAY, "the server is stopping")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained(), 5.0)
        await endpoint.close()
        await metrics.close()
        return 0

    async def _drained(self) -> None:
        while self._open:
            await asyncio.sleep(0.05)
