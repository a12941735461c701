"""Simulation process: one zone's port for players, its tick loop, and saves through its WorldServer."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import msgspec

from shardkit.characters.schemas import CharacterState, SaveResult
from shardkit.config.settings import Settings, WorldSettings
from shardkit.content import content_dir, load_content
from shardkit.runtime.main import announce
from shardkit.runtime.metrics import ProcessMetrics, histogram_snapshot
from shardkit.runtime.peerlog import quote
from shardkit.runtime.tasks import background
from shardkit.runtime.turns import KeyedTurns
from shardkit.wire.handshake import derive_key
from shardkit.wire.link import ServiceLink
from shardkit.wire.rpc import (
    Identity,
    Router,
    RpcConnection,
    RpcError,
    RpcServer,
    encode_notification,
    params_of,
    rpc,
    serve,
)
from shardkit.wire.text import clean_text
from shardkit.wire.throttle import TokenBucket, throttled
from shardkit.wire.tickets import TicketRedeemer
from shardkit.world.schemas import ZONE_TICK_BUCKETS_S, ZoneTickStats
from shardkit.zone.schemas import ZONE_SECRET_ENV, Entered, Input, Say, ZoneLogin
from shardkit.zone.simulation import Entity, Simulation
from shardkit.zone.world_events import WorldEvents

log = logging.getLogger("shardkit.zone")

MAX_CHAT = 256
TICK_STATS_INTERVAL_S = 2.0
"""How often a zone tells its WorldServer its tick times (``zone_tick_stats``)."""


class Player:
    """A player in the zone: the simulated entity, its connection, its saved state, its chat budget."""

    __slots__ = ("chat", "conn", "entity", "row", "save_lock", "state")

    def __init__(self, entity: Entity, conn: RpcConnection, state: CharacterState,
                 chat: TokenBucket) -> None:
        self.entity = entity
        self.conn = conn
        self.state = state
        self.chat = chat
        self.save_lock = asyncio.Lock()
        self.row = msgspec.Raw(b"")


class PlayerPort:
    """What a player's client does in the zone: log in with a zone ticket, move, talk, leave."""

    def __init__(self, zone: ZoneServer) -> None:
        self.zone = zone

    @rpc("zone_login", ZoneLogin, public=True)
    async def zone_login(self, conn: RpcConnection, p: ZoneLogin) -> Entered:
        """Enter the zone with the single-use ticket the world server issued."""
        if conn.identity is not None:
            raise RpcError("already_authenticated", "this connection is already in the zone")
        if conn.state.get("entering"):
            raise RpcError("busy", "already entering the zone")
        ticket = self.zone.redeemer.redeem(p.ticket, self.zone.name)
        conn.state["entering"] = True
        try:
            entered = await self.zone.admit(conn, ticket.account_id, ticket.character)
        finally:
            conn.state.pop("entering", None)
        conn.identity = Identity("player", ticket.account_name, ticket.account_id)
        return entered

    @rpc("input", Input)
    def input(self, conn: RpcConnection, p: Input) -> None:
        """Set the direction to walk in (a notification; the zone moves you each tick)."""
        player = conn.state.get("player")
        if player is not None:
            self.zone.sim.set_input(player.entity.id, p.dx, p.dy)

    @rpc("say", Say)
    async def say(self, conn: RpcConnection, p: Say) -> None:
        """Say something everyone in the zone hears."""
        player = conn.state.get("player")
        if player is None:
            return
        text = clean_text(p.text, MAX_CHAT)
        if not text:
            return
        if not player.chat.take():
            raise throttled(player.chat, "you are chatting too fast")
        self.zone.broadcast(encode_notification("chat", player.entity.name, text))

    @rpc("logout")
    async def logout(self, conn: RpcConnection) -> dict[str, Any]:
        """Leave the zone; answered after the character is saved."""
        player = conn.state.get("player")
        if player is None:
            return {"ok": True}
        saved = await self.zone.leave(player)
        close_later = asyncio.get_running_loop().call_soon
        close_later(conn.close, "logged out")
        return {"ok": saved}


class ZoneServer:
    def __init__(
        self, settings: Settings, world: WorldSettings, name: str, port: int, world_port: int,
        bind: str, secret: bytes, metrics_port: int = 0,
    ) -> None:
        self.settings = settings
        self.world = world
        self.name = name
        self.requested_port = port
        self.world_port = world_port
        self.bind = bind
        self.link_key = derive_key(secret, "zone-link")
        self.redeemer = TicketRedeemer(derive_key(secret, "zone-ticket"), kind="zone")
        zone_def = load_content(content_dir(settings.server.cluster.content_dir, settings.root)).zone(name)
        self.sim = Simulation(width=zone_def.width, height=zone_def.height, view_radius=world.view_radius)
        self.players: dict[int, Player] = {}
        self.by_account: dict[int, Player] = {}
        self.admissions = KeyedTurns()  # per account: entering, replacing and kicking in turn
        self.save_interval = settings.server.characters.save_interval_s
        self.world_link: ServiceLink
        self.port: RpcServer | None = None
        self._next_entity = 1
        self.metrics_port = metrics_port
        self.metrics = ProcessMetrics()
        labels = (world.name, name)
        self._tick_histogram = self.metrics.histogram(
            "shardkit_zone_tick_seconds", "How long one tick (simulation and sending) took.",
            ("world", "zone"), buckets=ZONE_TICK_BUCKETS_S)
        self.tick_seconds = self._tick_histogram.labels(*labels)
        self.late_ticks = self.metrics.counter(
            "shardkit_zone_late_ticks_total", "Ticks that started after the next was due.",
            ("world", "zone")).labels(*labels)
        self.sent_bytes = self.metrics.counter(
            "shardkit_zone_sent_bytes_total", "Bytes of messages the zone sent its players.",
            ("world", "zone")).labels(*labels)
        self.metrics.live_gauge("shardkit_zone_players", "Players in the zone.",
                                lambda: {labels: len(self.players)}, ("world", "zone"))

    # ------------------------------------------------------------- players
    async def admit(self, conn: RpcConnection, account_id: int, character: str) -> Entered:
        """Put the account's character in play here, replacing (and saving) an older entry.

        One account has at most one player in the zone: admissions of one account take turns
        (with each other and with kicks), so two tickets redeemed at once cannot both get in;
        the later one replaces the earlier, exactly as if they had come one after the other.
        """
        async with self.admissions.turn(account_id):
            if conn.closed.is_set():
                raise RpcError("closed", "the connection closed while waiting to enter")
            old = self.by_account.get(account_id)
            if old is not None:  # saved (it is told `saved`), then told why and closed
                await self.remove(old, final=False)
                old.conn.notify("kicked", "entered the game from elsewhere")
                old.conn.close("replaced")
            result = await self.world_link.call("load_character", account_id, character)
            return self._add(conn, account_id, msgspec.convert(result, CharacterState))

    def _add(self, conn: RpcConnection, account_id: int, state: CharacterState) -> Entered:
        entity = Entity(self._next_entity, state.name, state.x, state.y)
        self._next_entity += 1
        chat = TokenBucket(self.world.chat_per_s, self.world.chat_burst)
        player = Player(entity, conn, state, chat)
        self.sim.add(entity)
        self.players[entity.id] = player
        self.by_account[account_id] = player
        conn.state["player"] = player
        conn.on_close(lambda c: self._disconnected(player))
        self._report_population()
        log.info("%s entered %s at (%.1f, %.1f)", quote(state.name), self.name, entity.x, entity.y)
        return Entered(entity.id, self.name, entity.x, entity.y, self.world.tick_hz, self.sim.speed)

    def _disconnected(self, player: Player) -> None:
        if self.players.get(player.entity.id) is player:
            background(self.leave(player))

    async def leave(self, player: Player) -> bool:
        """The player leaves play (logout, disconnect): a final save, in the account's turn.

        Holding the turn means a new entry of the account waits for this save, so it loads
        the state just saved (not an older version that the save would then make stale).
        """
        async with self.admissions.turn(player.state.account_id):
            return await self.remove(player, final=True)

    async def remove(self, player: Player, *, final: bool) -> bool:
        """Take a player out of the zone and save it; True if the save was acknowledged."""
        if self.players.pop(player.entity.id, None) is None:
            return True
        if self.by_account.get(player.state.account_id) is player:
            del self.by_account[player.state.account_id]
        self.sim.remove(player.entity.id)
        self.broadcast(encode_notification("left", player.entity.id))
        self._report_population()
        return await self.save(player, final=final)

    async def save(self, player: Player, *, final: bool = False) -> bool:
        """Save one player's state through the world; True once the character server committed it."""
        async with player.save_lock:
            entity = player.entity
            state = msgspec.structs.replace(player.state, zone=self.name, x=entity.x, y=entity.y)
            try:
                result = msgspec.convert(
                    await self.world_link.call("save_character", state, final), SaveResult
                )
            except RpcError as exc:
                log.error("saving %s failed: %s", quote(state.name), quote(exc))
                return False
            if not result.ok:
                log.error("save of %s refused (%s); this zone no longer owns it", quote(state.name),
                          quote(result.reason))
                player.conn.notify("kicked", "your character is in play elsewhere")
                player.conn.close("stale save")
                return False
            player.state = msgspec.structs.replace(state, version=result.version)
            if not player.conn.closed.is_set():
                player.conn.notify("saved", result.version, state.zone, state.x, state.y)
            return True

    def broadcast(self, data: bytes) -> None:
        for player in self.players.values():
            player.conn.send_encoded(data)
        self.sent_bytes.inc(len(data) * len(self.players))

    def _report_population(self) -> None:
        self.world_link.notify("zone_population", self.name, len(self.players))

    # ---------------------------------------------------------------- tick
    def _tick(self, dt: float) -> None:
        sim = self.sim
        sim.step(dt)
        encode = msgspec.msgpack.encode
        for player in self.players.values():
            e = player.entity
            if e.moved or not player.row:
                player.row = msgspec.Raw(encode((e.id, e.name, round(e.x, 2), round(e.y, 2))))
        players = self.players
        sent = 0
        for player in players.values():
            rows = [players[other.id].row for other in sim.visible_to(player.entity) if other.id in players]
            data = encode_notification("snapshot", sim.tick, rows)
            sent += len(data)
            player.conn.send_encoded(data)
        self.sent_bytes.inc(sent)

    async def _tick_loop(self) -> None:
        period = 1.0 / self.world.tick_hz
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        observe = self.tick_seconds.observe
        while True:
            next_at += period
            started = time.perf_counter()
            self._tick(period)
            observe(time.perf_counter() - started)
            delay = next_at - loop.time()
            if delay < 0:  # we fell behind: skip ahead rather than spiral
                self.late_ticks.inc()
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)

    async def _report_tick_stats(self) -> None:
        """Tell the WorldServer our tick times every few seconds (its /metrics shows them)."""
        while True:
            await asyncio.sleep(TICK_STATS_INTERVAL_S)
            snapshot = histogram_snapshot(self._tick_histogram, ZONE_TICK_BUCKETS_S)
            stats = ZoneTickStats(self.name, snapshot.sum, list(snapshot.counts))
            self.world_link.notify("zone_tick_stats", *params_of(stats))

    async def _periodic_saves(self) -> None:
        while True:
            await asyncio.sleep(self.save_interval)
            started = time.monotonic()
            await asyncio.gather(*(self.save(p) for p in list(self.players.values())))
            log.debug("periodic save of %d players took %.3f s", len(self.players), time.monotonic() - started)

    # ----------------------------------------------------------------- run
    async def _on_world_up(self, conn: RpcConnection) -> None:
        assert self.port is not None
        await conn.call("zone_ready", self.name, self.port.port)

    async def run(self, stop: asyncio.Event) -> int:
        self.port = await serve(self.bind, self.requested_port, Router.for_services(PlayerPort(self)))
        announce(f"zone {self.name} listening on {self.bind}:{self.port.port}")
        metrics = await self.metrics.serve(self.settings.server.cluster.metrics_host,
                                           self.metrics_port, f"zone {self.world.name}/{self.name}")
        self.world_link = ServiceLink(
            "127.0.0.1", self.world_port, role="zone", name=self.name, secret=self.link_key,
            peer_role="world", on_up=self._on_world_up,
            router=Router.for_services(WorldEvents(self)),
        )
        self.world_link.start()
        tasks = [asyncio.create_task(self._tick_loop()), asyncio.create_task(self._periodic_saves()),
                 asyncio.create_task(self._report_tick_stats())]
        await stop.wait()
        log.info("zone %s stopping: saving %d players", self.name, len(self.players))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(self.remove(p, final=True) for p in list(self.players.values())))
        await self.port.close()
        await metrics.close()
        await self.world_link.stop()
        return 0


def zone_secret_from_env() -> bytes:
    value = os.environ.get(ZONE_SECRET_ENV, "")
    if not value:
        raise SystemExit(f"{ZONE_SECRET_ENV} is not set: zones are started by their WorldServer")
    return bytes.fromhex(value)
