"""Simulation process: one zone's port for players, its engine's tick, saves via its WorldServer."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time

from shardkit.config.settings import Settings, WorldSettings
from shardkit.content import content_dir, load_content
from shardkit.runtime.collector import BetweenTicks
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics, histogram_snapshot
from shardkit.wire.handshake import derive_key
from shardkit.wire.link import ServiceLink
from shardkit.wire.rpc import Router, RpcConnection, RpcServer, serve
from shardkit.wire.tickets import TicketRedeemer
from shardkit.world.api import WorldZoneApi
from shardkit.world.schemas import ZONE_TICK_BUCKETS_S, ZoneTickStats
from shardkit.zone.admin_port import ZoneAdmin
from shardkit.zone.chat import ZoneChat
from shardkit.zone.crossing import Crossings
from shardkit.zone.engine import ZoneEngine
from shardkit.zone.outcomes import Outcomes
from shardkit.zone.player_port import PlayerPort
from shardkit.zone.roster import Player, Roster
from shardkit.zone.schemas import ZONE_SECRET_ENV
from shardkit.zone.ticker import Ticker
from shardkit.zone.world_events import WorldEvents

__all__ = ["Player", "PlayerPort", "ZoneServer", "zone_secret_from_env"]

log = logging.getLogger("shardkit.zone")

TICK_STATS_INTERVAL_S = 2.0
"""How often a zone tells its WorldServer its tick times (``zone_tick_stats``)."""


RETRY_SAVES_S = 2.0  # periodic saves after one failed: the character server may be back
FLUSH_RETRIES_S = 5.0  # a stopping zone's last try at the final saves still waiting


class ZoneServer:
    """One zone process: the engine and its tick, the player port, the link to its WorldServer."""

    def __init__(
        self, settings: Settings, world: WorldSettings, name: str, port: int, world_port: int,
        bind: str, secret: bytes, metrics_port: int = 0,
    ) -> None:
        self.settings = settings
        self.world = world
        self.name = name
        self.requested_port = port
        self.bind = bind
        self.link_key = derive_key(secret, "zone-link")
        self.redeemer = TicketRedeemer(derive_key(secret, "zone-ticket"), kind="zone")
        self.content = load_content(content_dir(settings.server.cluster.content_dir,
                                                settings.root))
        self.engine = ZoneEngine.for_zone(self.content, name, view_radius=world.view_radius,
                                          tick_hz=world.tick_hz, rng=random.Random())
        self.sim = self.engine.sim
        self.save_interval = settings.server.characters.save_interval_s
        world_router = Router()  # what the WorldServer calls on us: services added below
        # the WorldServer listens where we do (its bind): loopback unless bound to one address
        world_host = "127.0.0.1" if bind in ("", "0.0.0.0", "::") else bind
        self.world_link = ServiceLink(
            world_host, world_port, role="zone", name=name, secret=self.link_key,
            peer_role="world", on_up=self._on_world_up, router=world_router)
        self.world_api = WorldZoneApi(self.world_link)
        self.roster = Roster(name, self.engine, chat_per_s=world.chat_per_s,
                             chat_burst=world.chat_burst, world=self.world_api,
                             on_population=self._report_population)
        self.metrics_port = metrics_port
        self.metrics = ProcessMetrics()
        labels = (world.name, name)
        self._tick_histogram = self.metrics.histogram(
            "shardkit_zone_tick_seconds", "How long one tick (simulation and sending) took.",
            ("world", "zone"), buckets=ZONE_TICK_BUCKETS_S)
        late = self.metrics.counter(
            "shardkit_zone_late_ticks_total", "Ticks that started after the next was due.",
            ("world", "zone")).labels(*labels)
        sent = self.metrics.counter(
            "shardkit_zone_sent_bytes_total", "Bytes of messages the zone sent its players.",
            ("world", "zone")).labels(*labels)
        self.metrics.live_gauge("shardkit_zone_players", "Players in the zone.",
                                lambda: {labels: len(self.roster)}, ("world", "zone"))
        self.metrics.live_gauge(
            "shardkit_zone_recent_tick_seconds", "p50 and p99 of the last 600 ticks' times.",
            lambda: self._recent_ticks(labels), ("world", "zone", "quantile"))
        same_server = next((spec.zones for spec in world.clusters if name in spec.zones), [name])
        crossings = Crossings(self.roster, self.world_link, world)
        collections = self.metrics.counter(
            "shardkit_zone_gc_collections_total",
            "Garbage collections run between ticks, by generation (none runs inside a tick).",
            ("world", "zone", "generation"))
        collector = BetweenTicks(
            on_collect=lambda generation: collections.labels(*labels, str(generation)).inc())
        self.ticker = Ticker(self.engine, self.roster,
                             Outcomes(self.roster, portal_zones=same_server,
                                      crossing=crossings.take),
                             observe=self._tick_histogram.labels(*labels).observe,
                             on_late=late.inc, on_sent=sent.inc, collector=collector)
        self.chat = ZoneChat(self.roster, self.world_api, say_radius=self.sim.zone.say_radius)
        self.admin = ZoneAdmin(self.roster, self.ticker, self.content, zones_here=same_server)
        self.roster.on_enter = self.admin.restore_mute
        for service in (WorldEvents(self.roster.kick), self.admin):
            world_router.add_service(service)
        self.port: RpcServer | None = None

    def _recent_ticks(self, labels: tuple[str, str]) -> dict[tuple[str, ...], float]:
        p50, p99 = self.ticker.percentiles_ms()
        return {(*labels, "0.5"): p50 / 1000, (*labels, "0.99"): p99 / 1000}

    def _report_population(self, players: int) -> None:
        self.world_api.zone_population(self.name, players)

    async def _report_tick_stats(self) -> None:
        """Tell the WorldServer our tick times every few seconds (its /metrics shows them)."""
        while True:
            await asyncio.sleep(TICK_STATS_INTERVAL_S)
            snapshot = histogram_snapshot(self._tick_histogram, ZONE_TICK_BUCKETS_S)
            stats = ZoneTickStats(self.name, snapshot.sum, list(snapshot.counts))
            self.world_api.zone_tick_stats(stats)

    async def _periodic_saves(self) -> None:
        wait = self.save_interval
        while True:
            await asyncio.sleep(wait)
            started = time.monotonic()
            failed = await self.roster.save_all()
            # the character server is away: try again sooner, so saves catch up once it is back
            wait = min(self.save_interval, RETRY_SAVES_S) if failed else self.save_interval
            log.debug("periodic save of %d players took %.3f s", len(self.roster),
                      time.monotonic() - started)

    async def _on_world_up(self, conn: RpcConnection) -> None:
        assert self.port is not None
        await WorldZoneApi(conn).zone_ready(self.name, self.port.port)

    def player_router(self) -> Router:
        return Router.for_services(PlayerPort(self.name, self.redeemer, self.roster, self.chat))

    async def run(self, stop: asyncio.Event) -> int:
        self.port = await serve(self.bind, self.requested_port, self.player_router())
        announce(f"zone {self.name} listening on {self.bind}:{self.port.port}")
        metrics = await self.metrics.serve(self.settings.server.cluster.metrics_host,
                                           self.metrics_port, f"zone {self.world.name}/{self.name}")
        self.world_link.start()
        tasks = [asyncio.create_task(self.ticker.run()),
                 asyncio.create_task(self._periodic_saves()),
                 asyncio.create_task(self._report_tick_stats())]
        await stop.wait()
        log.info("zone %s stopping: saving %d players", self.name, len(self.roster))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(self.roster.remove(p, final=True)
                               for p in list(self.roster.players.values())))
        await self.roster.retries.flush(FLUSH_RETRIES_S)
        await self.port.close()
        await metrics.close()
        await self.world_link.stop()
        return 0


def zone_secret_from_env() -> bytes:
    value = os.environ.get(ZONE_SECRET_ENV, "")
    if not value:
        raise SystemExit(f"{ZONE_SECRET_ENV} is not set: zones are started by their WorldServer")
    return bytes.fromhex(value)
