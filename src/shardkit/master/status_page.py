"""The master's HTTP pages: a human status page, the same as JSON, Prometheus /metrics and /healthz."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from shardkit.runtime.metrics import metrics_app

if TYPE_CHECKING:
    from shardkit.master.server import MasterServer

__all__ = ["status_app", "status_data"]

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shardkit master</title>
<meta http-equiv="refresh" content="10">
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em 1em;text-align:left}}</style>
</head><body>
<h1>shardkit master</h1>
<p>up {uptime} &middot; {sessions} players logged in &middot; {queued} waiting in queues</p>
<table><tr><th>world</th><th>status</th><th>population</th><th>capacity</th><th>queue</th></tr>
{rows}
</table></body></html>
"""


def status_data(master: MasterServer) -> dict[str, Any]:
    return {
        "uptime_s": round(master.uptime_s(), 1),
        "sessions": len(master.sessions),
        "queued": master.queues.total(),
        "worlds": [msgspec.structs.asdict(w) for w in master.gate.listing()],
    }


def _html(master: MasterServer) -> str:
    data = status_data(master)
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(str(w[k]))}</td>"
                         for k in ("name", "status", "population", "capacity", "queue")) + "</tr>"
        for w in data["worlds"]
    ) or '<tr><td colspan="5">no worlds announced</td></tr>'
    minutes, seconds = divmod(int(data["uptime_s"]), 60)
    return _PAGE.format(uptime=f"{minutes // 60}h{minutes % 60:02d}m{seconds:02d}s",
                        sessions=data["sessions"], queued=data["queued"], rows=rows)


def status_app(master: MasterServer) -> web.Application:
    """The master's status server: ``/`` (HTML), ``/status.json``, ``/metrics``, ``/healthz``."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_html(master), content_type="text/html")

    async def as_json(request: web.Request) -> web.Response:
        return web.Response(body=msgspec.json.encode(status_data(master)),
                            content_type="application/json")

    app = metrics_app(master.metrics)
    app.router.add_get("/", page)
    app.router.add_get("/status.json", as_json)
    return app
