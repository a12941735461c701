"""The operator dashboard's HTTP side: the page, and the cluster's figures for admins only.

``GET /dashboard`` is the page (static/dashboard.html); it logs in through the bridge with
SCRAM like the game client. ``GET /dashboard/status.json`` answers only a request that names
(``Authorization: Bearer <session token>``) a bridge session, from the address that started
it, whose master link is open and logged in an account with role ``admin`` (``web.logins``):
401 without a session, 403 for any other role. The figures come from ``ClusterWatch``. What
the dashboard *does* (broadcast, kick, who is online) goes over the bridge to the GM port with
the admin's own GM ticket, so the GM server checks and audits it as for any console.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from shardkit.web.cluster_watch import ClusterWatch
from shardkit.web.targets import SessionTable, ip_group

__all__ = ["Dashboard"]

ADMIN = "admin"


class Dashboard:
    def __init__(self, watch: ClusterWatch, sessions: SessionTable, static_dir: Path) -> None:
        self.watch = watch
        self.sessions = sessions
        self.static_dir = static_dir

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/dashboard", self.page)
        app.router.add_get("/dashboard/status.json", self.status)

    async def page(self, request: web.Request) -> web.StreamResponse:
        page = self.static_dir / "dashboard.html"
        if not page.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(page)

    def refusal(self, request: web.Request) -> web.Response | None:
        """Why this request may not see the figures (a response), or None if it may."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        session = self.sessions.get(token.strip()[:64]) if scheme == "Bearer" else None
        if session is None or ip_group(session.ip) != ip_group(request.remote or "?"):
            return web.json_response({"error": "log in first"}, status=401)
        account = session.account
        if account is None:
            return web.json_response({"error": "log in first"}, status=401)
        if account.role != ADMIN:
            return web.json_response(
                {"error": f"the dashboard is for admins; {account.name} is a {account.role}"},
                status=403)
        return None

    async def status(self, request: web.Request) -> web.Response:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        return web.json_response(self.watch.view())
