"""The dashboard's view of the cluster: every few seconds the web process scrapes each process's
``/metrics`` (the targets ``shardkit up`` keeps in ``data/metrics-targets.json``) and the
master's ``/status.json``, and keeps the last hour of figures in a bounded ring buffer.

Metrics are read with prometheus-client's own text parser. What one sample holds:

- the master (up, uptime, players logged in, queued) and each world of its list;
- per world: its daemon (address, up, uptime, WorldServers up of configured, imps); its
  WorldServers (address, up, uptime, restarts from the daemon's counter, players, zones up);
  its zones (players, process starts, mean and p99 tick time over the last interval);
- every process (address, up, uptime, CPU seconds, resident memory);
- one history point: players, master sessions, successful logins in the interval, and the
  slowest zone's mean tick time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["ClusterWatch", "Scrape", "parse_metrics"]

log = logging.getLogger("shardkit.web.dashboard")

SAMPLE_INTERVAL_S = 5.0
HISTORY_S = 3600.0
SCRAPE_TIMEOUT_S = 2.0
MAX_TARGETS = 200
MAX_SCRAPE_BYTES = 2 * 1024 * 1024

Labels = tuple[tuple[str, str], ...]


@dataclass
class Scrape:
    """One process's /metrics: sample name -> [(labels, value)]."""

    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    def value(self, name: str, default: float = 0.0, **labels: str) -> float:
        return self.lookup(name, labels, default)

    def lookup(self, name: str, labels: dict[str, str], default: float = 0.0) -> float:
        """The first sample of ``name`` whose labels include ``labels``."""
        for found, number in self.samples.get(name, []):
            if labels.items() <= found.items():
                return number
        return default

    def each(self, name: str) -> list[tuple[dict[str, str], float]]:
        return self.samples.get(name, [])


def parse_metrics(text: str) -> Scrape:
    scrape = Scrape()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            scrape.samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return scrape


def read_targets(path: Path) -> dict[str, str]:
    """process -> host:port from a Prometheus file_sd file ({} if there is none yet)."""
    try:
        groups = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    targets: dict[str, str] = {}
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict) or len(targets) >= MAX_TARGETS:
            continue
        process = group.get("labels", {}).get("shardkit_process")
        addresses = group.get("targets")
        if isinstance(process, str) and isinstance(addresses, list) and addresses:
            targets[process[:80]] = str(addresses[0])[:120]
    return targets


def _tick_figures(buckets: list[tuple[float, float]], total: float, count: float
                  ) -> tuple[float | None, float | None]:
    """Mean and p99 (a bucket's upper bound) in ms over an interval's deltas."""
    if count <= 0:
        return None, None
    p99 = None
    for bound, cumulative in sorted(buckets):
        if cumulative >= 0.99 * count:
            p99 = bound * 1000 if math.isfinite(bound) else None
            break
    return round(total / count * 1000, 2), p99


class ClusterWatch:
    """Samples the cluster every ``interval_s`` into a ring buffer of ``history_s``."""

    def __init__(self, targets_file: Path, master_status: str | None = None, *,
                 interval_s: float = SAMPLE_INTERVAL_S, history_s: float = HISTORY_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.targets_file = targets_file
        self.master_status = master_status  # host:port of the status page if no targets file
        self.interval_s = interval_s
        self.history: deque[dict[str, Any]] = deque(maxlen=max(2, int(history_s / interval_s)))
        self.latest: dict[str, Any] = {}
        self._clock = clock
        self._previous: dict[str, Scrape] = {}

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
                total=SCRAPE_TIMEOUT_S)) as http:
            while True:
                try:
                    await self.sample(http)
                except Exception:  # never let one bad sample stop the dashboard
                    log.exception("dashboard sample failed")
                await asyncio.sleep(self.interval_s)

    async def _get(self, http: aiohttp.ClientSession, url: str) -> str | None:
        try:
            async with http.get(url) as response:
                if response.status != 200:
                    return None
                body = await response.content.read(MAX_SCRAPE_BYTES)
                return body.decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return None

    async def sample(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        targets = read_targets(self.targets_file)
        if not targets and self.master_status:
            targets = {"master": self.master_status}
        names = sorted(targets)
        texts = await asyncio.gather(*(self._get(http, f"http://{targets[n]}/metrics")
                                       for n in names))
        scrapes: dict[str, Scrape] = {}
        for name, text in zip(names, texts, strict=True):
            if text is not None:
                try:
                    scrapes[name] = parse_metrics(text)
                except ValueError:
                    log.warning("unreadable /metrics from %s", name)
        status_text = await self._get(http, f"http://{targets['master']}/status.json") \
            if "master" in targets else None
        status = json.loads(status_text) if status_text else {}
        snapshot = self._snapshot(targets, scrapes, status if isinstance(status, dict) else {})
        self._previous = scrapes
        self.latest = snapshot
        self.history.append(snapshot.pop("point"))
        return snapshot

    # ------------------------------------------------------------------ figures
    def _uptime(self, scrape: Scrape | None, now: float) -> float | None:
        start = scrape.value("process_start_time_seconds") if scrape else 0.0
        return round(now - start, 1) if start else None

    def _snapshot(self, targets: dict[str, str], scrapes: dict[str, Scrape],
                  status: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        processes = [{
            "process": name, "address": targets[name], "up": name in scrapes,
            "uptime_s": self._uptime(scrapes.get(name), now),
            "cpu_s": round(scrapes[name].value("process_cpu_seconds_total"), 1)
            if name in scrapes else None,
            "rss_mb": round(scrapes[name].value("process_resident_memory_bytes") / 2**20, 1)
            if name in scrapes else None,
        } for name in sorted(targets)]
        worlds = [self._world(w, targets, scrapes, now) for w in status.get("worlds", [])
                  if isinstance(w, dict)]
        master = scrapes.get("master")
        logins = master.value("shardkit_master_logins_total", result="ok") if master else 0.0
        before = self._previous.get("master")
        earlier = before.value("shardkit_master_logins_total", result="ok") if before else logins
        ticks = [z["tick_ms"] for w in worlds for z in w["zones"] if z["tick_ms"] is not None]
        point = {"at": round(now, 1),
                 "population": sum(int(w.get("population", 0)) for w in worlds),
                 "sessions": int(status.get("sessions", 0)),
                 "logins": max(0, int(logins - earlier)),
                 "tick_ms": max(ticks) if ticks else None}
        return {"at": round(now, 1), "interval_s": self.interval_s,
                "master": {"address": targets.get("master"), "up": bool(status),
                           "uptime_s": status.get("uptime_s"),
                           "sessions": status.get("sessions"), "queued": status.get("queued")},
                "worlds": worlds, "processes": processes, "point": point}

    def _world(self, info: dict[str, Any], targets: dict[str, str], scrapes: dict[str, Scrape],
               now: float) -> dict[str, Any]:
        name = str(info.get("name", ""))
        daemon_key = f"daemon {name}"
        daemon = scrapes.get(daemon_key)
        servers, zones = [], []
        prefix = f"world {name}/"
        for process in sorted(p for p in targets if p.startswith(prefix)):
            cluster = process[len(prefix):]
            scrape = scrapes.get(process)
            restarts = daemon.value("shardkit_daemon_world_server_restarts_total", world=name,
                                    cluster=cluster) if daemon else 0.0
            servers.append({
                "cluster": cluster, "address": targets[process], "up": scrape is not None,
                "state": "up" if scrape is not None else "down",
                "uptime_s": self._uptime(scrape, now), "restarts": int(restarts),
                "players": int(scrape.value("shardkit_world_players")) if scrape else None,
                "zones_up": int(scrape.value("shardkit_world_zones_up")) if scrape else None})
            if scrape is not None:
                zones += self._zones(process, cluster, scrape)
        return {**{k: info.get(k) for k in ("name", "status", "population", "capacity", "queue")},
                "daemon": {"address": targets.get(daemon_key), "up": daemon is not None,
                           "uptime_s": self._uptime(daemon, now),
                           "world_servers_up": int(daemon.value(
                               "shardkit_daemon_world_servers_up", world=name)) if daemon else None,
                           "world_servers_configured": int(daemon.value(
                               "shardkit_daemon_world_servers_configured", world=name))
                           if daemon else None,
                           "imps": int(daemon.value("shardkit_daemon_imps", world=name))
                           if daemon else None},
                "world_servers": servers, "zones": zones}

    def _zones(self, process: str, cluster: str, scrape: Scrape) -> list[dict[str, Any]]:
        before = self._previous.get(process)
        out = []
        names = {labels.get("zone", "") for series in (
            "shardkit_world_zone_starts", "shardkit_world_zone_players",
            "shardkit_world_zone_tick_seconds_count") for labels, _ in scrape.each(series)}
        for zone in sorted(names):
            players = scrape.lookup("shardkit_world_zone_players", {"zone": zone})

            def delta(name: str, zone: str = zone, le: str = "") -> float:
                labels = {"zone": zone, "le": le} if le else {"zone": zone}
                now_value = scrape.lookup(name, labels)
                then = before.lookup(name, labels, now_value) if before else 0.0
                return max(0.0, now_value - then)

            count = delta("shardkit_world_zone_tick_seconds_count")
            buckets = [(float(lab["le"]), delta("shardkit_world_zone_tick_seconds_bucket",
                                                le=lab["le"]))
                       for lab, _ in scrape.each("shardkit_world_zone_tick_seconds_bucket")
                       if lab.get("zone") == zone]
            mean, p99 = _tick_figures(buckets, delta("shardkit_world_zone_tick_seconds_sum"),
                                      count)
            out.append({"name": zone, "cluster": cluster, "players": int(players),
                        "starts": int(scrape.value("shardkit_world_zone_starts", zone=zone)),
                        "tick_ms": mean, "tick_p99_ms": p99})
        return out

    def view(self) -> dict[str, Any]:
        """What the dashboard page gets: the latest sample and the history."""
        return {**self.latest, "history": list(self.history)}
