"""The master's HTTP pages: a status page for people, the same as JSON, /metrics and /healthz."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from shardkit.runtime.metrics import ProcessMetrics, metrics_app

__all__ = ["StatusSource", "status_app"]

StatusSource = Callable[[], dict[str, Any]]
"""What the page shows: ``uptime_s``, ``sessions``, ``queued`` and ``worlds`` (listing rows)."""

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shardkit master</title>
<meta http-equiv="refresh" content="10">
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em 1em;text-align:left}}</style>
</head><body>
<h1>shardkit master</h1>
<p>up {uptime} &middot; {sessions} players logged in &middot; {queued} waiting in queues</p>
<table><tr><th>world</th><th>status</th><th>population</th><th>capacity</th><th>queue</th>
<th>crash-looping WorldServers</th></tr>
{rows}
</table></body></html>
"""


def _html(data: dict[str, Any]) -> str:
    def looping(w: dict[str, Any]) -> str:
        names = [f"{w['name']}/{c}" for c in w.get("crash_loops", [])]
        return "CRASH LOOP: " + ", ".join(names) if names else "-"

    rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(str(w[k]))}</td>"
                         for k in ("name", "status", "population", "capacity", "queue"))
        + f"<td>{html.escape(looping(w))}</td></tr>"
        for w in data["worlds"]
    ) or '<tr><td colspan="6">no worlds announced</td></tr>'
    minutes, seconds = divmod(int(data["uptime_s"]), 60)
    return _PAGE.format(uptime=f"{minutes // 60}h{minutes % 60:02d}m{seconds:02d}s",
                        sessions=data["sessions"], queued=data["queued"], rows=rows)


def status_app(status: StatusSource, metrics: ProcessMetrics) -> web.Application:
    """The master's status server: ``/`` (HTML), ``/status.json``, ``/metrics``, ``/healthz``."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_html(status()), content_type="text/html")

    async def as_json(request: web.Request) -> web.Response:
        return web.Response(body=msgspec.json.encode(status()),
                            content_type="application/json")

    app = metrics_app(metrics)
    app.router.add_get("/", page)
    app.router.add_get("/status.json", as_json)
    return app
