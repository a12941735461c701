"""One bot: registers or reuses its account, logs in, enters the game, then walks, talks, fights.

The master and world part is the client library's ``GameClient``; in the zone a bot uses a lean
router (``ZoneNotices``) that reads of ``sync`` only its own position (``lean_sync``), which is
all the input-to-visible latency needs: the time from sending a new direction to the first
``sync`` in which our own position moved that way.
"""

from __future__ import annotations

import asyncio
import math
import random
import struct
import time

import msgspec

from shardkit.bots.lean_sync import own_position
from shardkit.bots.options import BotOptions, character_name
from shardkit.bots.stats import LATENCY_TIMEOUT_S, BotStats
from shardkit.client.events import ErrorMsg
from shardkit.client.session import GameClient
from shardkit.wire.methods import Handler, MethodSpec, Router
from shardkit.wire.peers import Notification
from shardkit.wire.rpc import RpcConnection, RpcError, connect
from shardkit.world.api import WorldPlayerApi
from shardkit.zone import notifications as zone_notices
from shardkit.zone.api import ZonePlayerApi
from shardkit.zone.notifications import Portal, Sync

SYNC_ENVELOPE = 18  # bytes of MessagePack around a sync body (docs/protocol.md)
SAME_WAY = 0.8  # cosine: a step this close to the new direction shows the turn


class ZoneNotices(Router):
    """Every notification a zone sends, each taken by its schema; ``sync`` and ``portal`` go to
    the bot, ``error`` is counted by code, the rest are let be."""

    def __init__(self, bot: Bot) -> None:
        super().__init__()
        ignore: Handler = lambda conn, p: None  # noqa: E731
        table: dict[str, tuple[MethodSpec, Handler]] = {}
        for name in zone_notices.__all__:
            kind = getattr(zone_notices, name)
            if isinstance(kind, type) and issubclass(kind, Notification):
                table[kind.method] = (MethodSpec(kind.method, kind, None, ""), ignore)
        table["sync"] = (MethodSpec("sync", Sync, None, ""), bot.on_sync)
        table["portal"] = (MethodSpec("portal", Portal, None, ""), bot.on_portal)
        table["error"] = (MethodSpec("error", ErrorMsg, None, ""), bot.on_error)
        self._table = table

    def lookup(self, name: str) -> tuple[MethodSpec, Handler] | None:
        return self._table.get(name)


class Bot:
    """One bot's connections and its walk; counts into the process's ``BotStats``."""

    def __init__(self, account: str, options: BotOptions, stats: BotStats,
                 rng: random.Random) -> None:
        self.account = account
        self.character = character_name(account)
        self.options = options
        self.stats = stats
        self.rng = rng
        self.client = GameClient(options.host, options.port)
        self.zone: RpcConnection | None = None
        self.notices = ZoneNotices(self)
        self.own = b""  # our entity id, as sync writes it
        self.speed = 1.0
        self.pos: tuple[float, float] | None = None
        self.heading = rng.random() * math.tau
        self.turned: tuple[float, float, float] | None = None  # (sent at, dx, dy)
        self.npcs: set[int] | None = set() if options.attack_every > 0 else None
        self.moved_away = asyncio.Event()  # a portal moved us (and we do not follow)

    # ------------------------------------------------------------ getting in
    async def enter(self) -> None:
        """Register (or reuse) the account, log in, make the character if need be, enter."""
        client, o, lap = self.client, self.options, self.stats.lap
        refused: RpcError | None = None
        started = time.monotonic()
        if not o.reuse:
            try:
                await client.register(self.account, o.password)
            except RpcError as exc:  # taken: ours from an earlier run; rate-limited: maybe so
                if exc.code not in ("name_taken", "rate_limited"):
                    raise
                refused = exc if exc.code == "rate_limited" else None
            started = lap("register", started)
        try:
            await client.login(self.account, o.password)
        except RpcError:
            if refused is not None:
                raise refused from None
            raise
        started = lap("login", started)
        await client.enter_world(o.world)
        if client.master is not None:  # a bot in a world needs the master no more
            client.master.close("bot entered its world")
            client.master = None
        mine = await client.characters()
        if not any(c.name.casefold() == self.character.casefold() for c in mine):
            await client.create_character(self.character)
        started = lap("world", started)
        await self.enter_zone()
        lap("zone", started)

    async def enter_zone(self) -> None:
        world = self.client.world
        if world is None:
            raise RpcError("not_in_world", "the bot has no world connection")
        entry = await WorldPlayerApi(world).enter_game(self.character)
        if self.zone is not None:
            self.zone.close("bot changing zone")
        self.zone = await connect(entry.host, entry.port, self.notices)
        entered = await ZonePlayerApi(self.zone).zone_login(entry.ticket)
        self.own = struct.pack("<I", entered.entity_id)
        self.speed = entered.speed
        self.pos = (entered.x, entered.y)
        self.stats.tick_hz = entered.tick_hz

    # ------------------------------------------------------------ playing
    async def play(self, stop: asyncio.Event) -> None:
        """Walk (and talk, and fight) until ``stop``, the zone is lost or a portal took us."""
        o, rng = self.options, self.rng
        loop = asyncio.get_running_loop()
        now = loop.time()
        next_turn = now
        next_chat = now + rng.random() * o.chat_every if o.chat_every > 0 else math.inf
        next_attack = now + rng.random() * o.attack_every if o.attack_every > 0 else math.inf
        if o.stand:
            next_turn = math.inf
        said = 0
        while not stop.is_set():
            zone = self.zone
            if zone is None or zone.closed.is_set():
                if self.moved_away.is_set() and not o.portals:
                    return
                raise RpcError("zone_closed", "the zone closed our connection")
            now = loop.time()
            api = ZonePlayerApi(zone)
            if now >= next_turn:
                self.turn(api)
                next_turn = now + rng.uniform(o.turn_min, o.turn_max)
            if now >= next_chat:
                said += 1
                api.say(f"{self.account} says hello {said}")
                next_chat = now + o.chat_every
            if now >= next_attack:
                if self.npcs:
                    api.attack(rng.choice(sorted(self.npcs)))
                next_attack = now + o.attack_every
            turned = self.turned
            if turned is not None and time.monotonic() - turned[0] > LATENCY_TIMEOUT_S:
                self.turned = None
                if self.stats.measuring:
                    self.stats.latency_lost += 1
            # a plain sleep (stop is seen within a second): thousands of bots waiting on the one
            # ``stop`` event made each timeout's cancellation scan all their waiters
            wake = min(next_turn, next_chat, next_attack, now + 1.0)
            await asyncio.sleep(max(0.0, wake - loop.time()))

    def turn(self, api: ZonePlayerApi) -> None:
        """Walk off in a new direction: at least 90 degrees from the old one (so the turn
        shows in our position), back toward the middle of the fence when near its edge."""
        fence, pos, rng = self.options.fence, self.pos, self.rng
        heading = self.heading + rng.uniform(math.pi / 2, 3 * math.pi / 2)
        if fence is not None and pos is not None:
            reach = self.speed * self.options.turn_max
            for _ in range(8):
                if fence.inside(pos[0] + math.cos(heading) * reach,
                                pos[1] + math.sin(heading) * reach):
                    break
                heading = self.heading + rng.uniform(math.pi / 2, 3 * math.pi / 2)
            else:
                heading = fence.toward_middle(*pos) + rng.uniform(-0.5, 0.5)
        sharp = math.cos(heading - self.heading) <= 0.0
        self.heading = heading
        dx, dy = math.cos(heading), math.sin(heading)
        api.input(dx, dy)
        self.turned = (time.monotonic(), dx, dy) if sharp else None

    # ------------------------------------------------------------ notifications
    def on_sync(self, conn: RpcConnection, p: Sync) -> None:
        stats = self.stats
        stats.snapshots_total += 1
        if stats.measuring:
            stats.snapshots += 1
            stats.sync_bytes += len(p.body) + SYNC_ENVELOPE
        pos = own_position(p.body, self.own, self.npcs)
        if pos is None:
            return
        last, self.pos = self.pos, pos
        turned = self.turned
        if turned is None or last is None:
            return
        vx, vy = pos[0] - last[0], pos[1] - last[1]
        step = math.hypot(vx, vy)
        if step > 0 and (vx * turned[1] + vy * turned[2]) >= SAME_WAY * step:
            self.turned = None
            if stats.measuring:
                stats.latencies_ms.append((time.monotonic() - turned[0]) * 1000)

    def on_portal(self, conn: RpcConnection, p: Portal) -> None:
        if not p.moved:
            return
        self.stats.portals += 1
        self.moved_away.set()
        if self.options.portals:
            asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        try:
            await self.enter_zone()
            self.moved_away.clear()
        except (RpcError, OSError) as exc:
            self.stats.error(getattr(exc, "code", "connection"))
            if self.zone is not None:
                self.zone.close("could not follow the portal")

    def on_error(self, conn: RpcConnection, p: ErrorMsg) -> None:
        self.stats.error(str(p.error.get("code", "error"))[:40])

    # ------------------------------------------------------------ leaving
    async def leave(self) -> None:
        """Log out of the zone (the character is saved) and close every connection."""
        zone = self.zone
        if zone is not None and not zone.closed.is_set():
            try:
                await asyncio.wait_for(ZonePlayerApi(zone).logout(), 10)
            except (RpcError, OSError, TimeoutError):
                pass
            zone.close("bot done")
        self.zone = None
        for conn in (self.client.world, self.client.master):
            if conn is not None:
                conn.close("bot done")


def error_code(exc: BaseException) -> str:
    """How a failure is counted in the report."""
    if isinstance(exc, RpcError):
        return exc.code
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError):
        return "connection"
    if isinstance(exc, msgspec.ValidationError):
        return "bad_answer"
    return type(exc).__name__
