"""A WorldServer's SSH console commands: its zones, players, and what an operator does to them."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from shardkit.config.settings import ClusterSpec
from shardkit.console.commands import CommandSet, UsageError
from shardkit.runtime.process import Child
from shardkit.wire.peers import encode_notice, notify
from shardkit.wire.rpc import RpcConnection, RpcError
from shardkit.wire.text import clean_text
from shardkit.world.notifications import Broadcast, Kicked
from shardkit.world.players import Players
from shardkit.world.session import sessions
from shardkit.world.zones import Zones
from shardkit.zone.admin_schemas import ZonePlayer
from shardkit.zone.api import ZoneApi

__all__ = ["WorldConsole"]

T = TypeVar("T")

ZONE_ANSWER_S = 5.0  # how long the console waits for a zone


def _number(text: str, usage: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{usage} ({text[:20]!r} is not a number)") from None
    if not math.isfinite(value):
        raise UsageError(f"{usage} ({text[:20]!r} is not a number)")
    return value


class WorldConsole:
    """The commands of one WorldServer's console (``commands()`` builds the CommandSet)."""

    def __init__(self, label: str, spec: ClusterSpec, players: Players, zones: Zones,
                 children: Mapping[str, Child]) -> None:
        self.label = label
        self.spec = spec
        self.players = players
        self.zones = zones
        self.children = children

    async def _ask(self, zone: str, ask: Callable[[ZoneApi], Awaitable[T]]) -> T:
        link = self.zones.links.get(zone)
        if link is None:
            raise RpcError("zone_down", f"zone {zone} is down")
        return await asyncio.wait_for(ask(ZoneApi(link[0])), ZONE_ANSWER_S)

    def _zone_of(self, character: str) -> str:
        """The zone this character plays in here (the world's sessions know)."""
        wanted = character.casefold()
        for conn in self.players:
            session = sessions.get(conn)
            if session is not None and session.character.casefold() == wanted and session.zone:
                return session.zone
        raise UsageError(f"no character called {character[:40]!r} plays on this world server")

    def _account(self, name: str) -> RpcConnection:
        conn = self.players.named(name)
        if conn is None:
            raise UsageError("usage: kick <account name> [reason] (the account must be online)")
        return conn

    def commands(self) -> CommandSet:
        commands = CommandSet()
        for name, help_text, handler in (
            ("status", "this world server's zones and players", self.status),
            ("zones", "each zone: players, NPCs, tick time p50/p99", self.zone_list),
            ("players", "who is on this world server, where, with what level and health",
             self.player_list),
            ("kick", "save and disconnect a player: kick <account name> [reason]", self.kick),
            ("teleport", "move a character in its zone: teleport <character> <x> <y>",
             self.teleport),
            ("spawn", "add an NPC: spawn <zone> <kind> <x> <y>", self.spawn),
            ("broadcast", "a notice to every player here: broadcast <text>", self.broadcast),
            ("mute", "drop a character's chat: mute <character> <minutes> [reason]", self.mute),
            ("unmute", "let a character chat again: unmute <character>", self.unmute),
            ("inspect", "a character's live state: inspect <character>", self.inspect),
        ):
            commands.add(name, help_text, _answering_errors(handler))
        return commands

    # ---------------------------------------------------------------- commands
    async def status(self, args: list[str]) -> str:
        lines = [f"world server {self.label} (pid {os.getpid()}): {len(self.players)} players"]
        for zone in self.spec.zones:
            up = "up" if self.zones.up[zone].is_set() else "down"
            child = self.children.get(zone)
            lines.append(f"  zone {zone}: {up}, {self.zones.population.get(zone, 0)} players,"
                         f" pid {child.pid if child else '-'},"
                         f" started {child.starts if child else 0}x")
        return "\n".join(lines)

    async def zone_list(self, args: list[str]) -> str:
        lines = []
        for zone in self.spec.zones:
            try:
                s = await self._ask(zone, lambda api: api.status())
            except (RpcError, TimeoutError):
                lines.append(f"{zone}: down")
                continue
            lines.append(f"{zone}: {s.players} players, {s.npcs} NPCs, tick {s.tick} at"
                         f" {s.tick_hz:g} Hz, tick time p50 {s.tick_p50_ms:.2f} ms"
                         f" p99 {s.tick_p99_ms:.2f} ms, {s.late_ticks} late")
        return "\n".join(lines)

    async def player_list(self, args: list[str]) -> str:
        in_zones: dict[int, ZonePlayer] = {}
        for zone in self.spec.zones:
            try:
                rows = await self._ask(zone, lambda api: api.players())
            except (RpcError, TimeoutError):
                continue
            in_zones.update((row.account_id, row) for row in rows)
        lines = []
        for conn in self.players:
            if conn.identity is None or conn.identity.account_id is None:
                continue
            session = sessions.get(conn)
            zone = session.zone if session is not None and session.zone else "-"
            row = in_zones.get(conn.identity.account_id)
            where = (f"{row.name} in {zone} at ({row.x:.1f}, {row.y:.1f}), level {row.level},"
                     f" hp {row.hp}/{row.max_hp}") if row else "not in a zone"
            lines.append(f"{conn.identity.name:<20} {where}, from {conn.peer_ip}")
        return "\n".join(lines) or "nobody is here"

    async def kick(self, args: list[str]) -> str:
        if not args:
            raise UsageError("usage: kick <account name> [reason]")
        conn = self._account(args[0])
        reason = clean_text(" ".join(args[1:]), 200) or "kicked by an administrator"
        assert conn.identity is not None and conn.identity.account_id is not None
        notify(conn, Kicked(reason))
        conn.close("kicked")
        self.zones.kick_everywhere(conn.identity.account_id, reason)  # saved, then dropped
        return f"kicked {conn.identity.name}"

    async def teleport(self, args: list[str]) -> str:
        usage = "usage: teleport <character> <x> <y>"
        if len(args) != 3:
            raise UsageError(usage)
        x, y = _number(args[1], usage), _number(args[2], usage)
        zone = self._zone_of(args[0])
        await self._ask(zone, lambda api: api.teleport(args[0], x, y))
        return f"{args[0]} is at ({x:g}, {y:g}) in {zone}"

    async def spawn(self, args: list[str]) -> str:
        usage = "usage: spawn <zone> <kind> <x> <y>"
        if len(args) != 4:
            raise UsageError(usage)
        zone, kind = args[0], args[1]
        if zone not in self.zones:
            raise UsageError(f"{usage} (zones here: {', '.join(self.spec.zones)})")
        x, y = _number(args[2], usage), _number(args[3], usage)
        spawned = await self._ask(zone, lambda api: api.spawn_npc(kind, x, y))
        return f"spawned a {kind} (entity {spawned.entity_id}) at ({x:g}, {y:g}) in {zone}"

    async def broadcast(self, args: list[str]) -> str:
        text = clean_text(" ".join(args), 512)
        if not text:
            raise UsageError("usage: broadcast <text>")
        data = encode_notice(Broadcast(text))
        count = 0
        for conn in self.players:
            conn.send_encoded(data)
            count += 1
        return f"told {count} players"

    async def mute(self, args: list[str]) -> str:
        usage = "usage: mute <character> <minutes> [reason]"
        if len(args) < 2:
            raise UsageError(usage)
        minutes = _number(args[1], usage)
        if not 0 < minutes <= 525_600:
            raise UsageError(f"{usage} (minutes: more than 0, at most a year)")
        reason = " ".join(args[2:])
        zone = self._zone_of(args[0])
        until = time.time() + minutes * 60
        await self._ask(zone, lambda api: api.mute(args[0], until, reason))
        return f"muted {args[0]} for {minutes:g} minutes"

    async def unmute(self, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError("usage: unmute <character>")
        zone = self._zone_of(args[0])
        was = await self._ask(zone, lambda api: api.unmute(args[0]))
        return f"unmuted {args[0]}" if was.ok else f"{args[0]} was not muted"

    async def inspect(self, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError("usage: inspect <character>")
        zone = self._zone_of(args[0])
        c = await self._ask(zone, lambda api: api.inspect(args[0]))
        items = ", ".join(f"{item} x{count}" for item, count in c.items) or "no items"
        muted = f", muted: {c.mute_reason or 'no reason'}" if c.muted_until else ""
        return (f"{c.name} (account {c.account_id}, character {c.character_id}) in {c.zone} at"
                f" ({c.x:.1f}, {c.y:.1f}): level {c.level}, {c.xp} xp, hp {c.hp}/{c.max_hp}"
                f"{' (dead)' if c.dead else ''}, {c.gold} gold, {items}{muted},"
                f" {c.strikes} impossible moves, version {c.version}")


def _answering_errors(handler: Callable[[list[str]], Awaitable[str]]
                      ) -> Callable[[list[str]], Awaitable[str]]:
    """A zone's refusal (``not_here``, ``out_of_bounds``...) is the answer, not a fault."""

    async def run(args: list[str]) -> str:
        try:
            return await handler(args)
        except RpcError as exc:
            return f"error: {exc.code}: {exc.message}"
        except TimeoutError:
            return "error: the zone did not answer in time"

    return run

