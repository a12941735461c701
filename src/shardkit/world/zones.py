"""A WorldServer's zone processes as it sees them: which are up, where, with how many players."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from shardkit.runtime.metrics import HistogramSnapshot
from shardkit.runtime.peerlog import quote
from shardkit.wire.peers import notify
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.world.notifications import ZoneLost
from shardkit.world.players import Players
from shardkit.world.schemas import ZONE_TICK_BUCKETS_S, ZoneReady, ZoneTickStats
from shardkit.zone.api import ZoneApi

log = logging.getLogger("shardkit.world")


class Zones:
    """Zone name -> the link of the zone process running it (while up) and its port.

    ``on_all_up`` runs once, the first time every zone of the cluster is up.
    """

    def __init__(self, names: list[str], players: Players,
                 on_all_up: Callable[[], None] = lambda: None) -> None:
        self.names = list(names)
        self.players = players
        self.links: dict[str, tuple[RpcConnection, int]] = {}
        self.up: dict[str, asyncio.Event] = {z: asyncio.Event() for z in self.names}
        self.population: dict[str, int] = {}
        self.ticks: dict[str, HistogramSnapshot] = {}  # tick times each zone reported
        self._on_all_up: Callable[[], None] | None = on_all_up
        self.stopping = ""  # why this WorldServer stops (planned), once it does
        self.up_since: dict[str, float] = {}  # monotonic time each zone last reported ready

    def __contains__(self, zone: str) -> bool:
        return zone in self.up

    def api(self, zone: str) -> ZoneApi:
        """The typed API of a zone that is up here (``zone_down`` if it is not)."""
        link = self.links.get(zone)
        if link is None:
            raise RpcError("zone_down", f"zone '{zone}' is down; its supervisor restarts it")
        return ZoneApi(link[0])

    def port_of(self, zone: str) -> int | None:
        link = self.links.get(zone)
        return link[1] if link is not None else None

    def set_population(self, zone: str, players: int) -> None:
        self.population[zone] = max(0, players)

    def tick_stats(self, conn: RpcConnection, p: ZoneTickStats) -> None:
        """A zone's tick-time histogram so far; only from the zone itself, once it is up."""
        zone = conn.identity.name if conn.identity else ""
        if p.zone != zone or self.links.get(zone, (None,))[0] is not conn:
            raise RpcError("forbidden", "a zone reports only its own tick times, once ready")
        try:
            self.ticks[zone] = HistogramSnapshot(ZONE_TICK_BUCKETS_S, p.buckets, p.seconds)
        except ValueError as exc:
            raise RpcError("bad_params", f"`buckets`: {exc}") from None

    def came_up(self, conn: RpcConnection, p: ZoneReady, cluster: int) -> None:
        if p.zone not in self.up:
            raise RpcError("no_such_zone", f"zone '{p.zone}' is not part of cluster {cluster}")
        self.links[p.zone] = (conn, p.port)
        self.up_since[p.zone] = time.monotonic()
        self.up[p.zone].set()
        log.info("zone %s ready on port %s", quote(p.zone), p.port)
        conn.on_close(lambda c: self._went_down(p.zone, c))
        if self._on_all_up is not None and all(e.is_set() for e in self.up.values()):
            on_all_up, self._on_all_up = self._on_all_up, None
            on_all_up()

    def _went_down(self, zone: str, conn: RpcConnection) -> None:
        if self.links.get(zone, (None,))[0] is not conn:
            return
        del self.links[zone]
        self.up[zone].clear()
        self.population.pop(zone, None)
        self.ticks.pop(zone, None)
        if self.stopping:
            log.info("zone %s stopped (planned %s of its WorldServer)", zone, self.stopping)
            return  # the players were told why (going_down)
        if conn.peer_stopping:  # the zone said goodbye: stopped on purpose
            log.info("zone %s stopped", zone)
        else:
            log.warning("zone %s went down; its supervisor restarts it", zone)
        for player in self.players.in_zone(zone):
            notify(player, ZoneLost(zone))

    async def wait_up(self, zone: str, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self.up[zone].wait(), timeout_s)
        except TimeoutError:
            raise RpcError("zone_down", f"zone '{zone}' is not up; try again shortly") from None

    def kick_everywhere(self, account_id: int, reason: str) -> None:
        """Have every zone here save and drop the account's character (notifications)."""
        for link, _port in list(self.links.values()):
            ZoneApi(link).kick_soon(account_id, reason)

    async def take_out_of_play(self, account_id: int, *, but_in: str) -> None:
        """Have every zone here but ``but_in`` save and drop a character of the account it holds.

        Returns once each has answered (a zone without the account answers at once); a zone
        that is down holds nobody, one that does not answer in time has no say any more.
        """
        links = [(zone, link) for zone, (link, _) in list(self.links.items()) if zone != but_in]
        answers = await asyncio.gather(
            *(ZoneApi(link).kick_account(account_id, "entered the game elsewhere")
              for _, link in links),
            return_exceptions=True)
        for (zone, _), answer in zip(links, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("zone %s did not confirm taking account %s out of play: %s",
                            zone, account_id, getattr(answer, "code", type(answer).__name__))
