"""The daemon's telnet console (7002): world status, players, kick, broadcast, reboot, shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from shardkit.config.settings import WorldSettings
from shardkit.console.commands import CommandSet, UsageError, int_arg
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.layout_schemas import ClusterStatus, WorldLayout
from shardkit.daemon.reboot import Rebooter
from shardkit.daemon.save_backlog import SaveBacklog
from shardkit.daemon.schedule import ScheduledReboots
from shardkit.gm.calls import GMWorldCalls
from shardkit.master.notifications import KickAccount
from shardkit.wire.link import InboundLink
from shardkit.wire.peers import notify
from shardkit.world.api import WorldDaemonApi
from shardkit.world.gm_schemas import OnlineCharacter, WhoQuery, WorldNotice
from shardkit.world.schemas import ZoneStatus

__all__ = ["DaemonConsole", "DaemonView"]

log = logging.getLogger("shardkit.daemon")

ASK_TIMEOUT_S = 3.0  # for a WorldServer to answer the console
MAX_COUNTDOWN_S = 24 * 3600
KICK_REASON = "kicked by an administrator"


def _uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


class DaemonView(Protocol):
    """What the console reads and drives: the running daemon's parts."""

    world: WorldSettings
    clusters: ClusterRegistry
    rebooter: Rebooter
    characters: InboundLink
    backlog: SaveBacklog
    schedule: ScheduledReboots | None

    def layout(self) -> WorldLayout:
        """Every WorldServer and imp as the supervisor sees them (daemon/supervise.py)."""


class DaemonConsole:
    """The console's commands over a running daemon (``DaemonView``)."""

    def __init__(self, daemon: DaemonView) -> None:
        self.d = daemon

    # ------------------------------------------------------------- reading
    async def _ask_each(self, ask: Any) -> list[Any]:
        """Ask every registered WorldServer; those that fail or are slow are left out."""
        targets = self.d.clusters.connections()
        answers = await asyncio.gather(
            *(asyncio.wait_for(ask(conn), ASK_TIMEOUT_S) for conn in targets),
            return_exceptions=True)
        return [a for a in answers if not isinstance(a, BaseException)]

    async def online(self, name: str = "") -> list[OnlineCharacter]:
        query = WhoQuery(self.d.world.name, name=name, limit=1000)
        answers = await self._ask_each(lambda ws: GMWorldCalls.gm_who.send(ws, query))
        return [row for answer in answers for row in answer]

    def _state(self, c: ClusterStatus) -> str:
        if c.number in self.d.rebooter.rebooting:
            return f"rebooting ({self.d.rebooter.phase})"
        return c.state + (" CRASH LOOP" if c.crash_loop else "")

    async def zones(self, number: int) -> list[ZoneStatus] | None:
        """A WorldServer's zones as it sees them; None if it is not up or does not answer."""
        registered = self.d.clusters.clusters.get(number)
        if registered is None:
            return None
        try:
            return await asyncio.wait_for(WorldDaemonApi(registered[0]).zone_status(),
                                          ASK_TIMEOUT_S)
        except Exception:  # a WorldServer going down as we ask: shown as not answering
            return None

    async def status(self, args: list[str]) -> str:
        d = self.d
        rows = await self.online()
        layout = d.layout()
        lines = [f"world {d.world.name}: {len(d.clusters)}/{len(layout.clusters)} world servers"
                 f" up, {len(rows)} players online"]
        for c in layout.clusters:
            where = c.host or f"(unplaced, wants {c.runs_on})"
            lines.append(f"  world server {c.number} on {where} at {c.address or '-'}:"
                         f" {self._state(c)}, pid {c.pid or '-'}, uptime {_uptime(c.uptime_s)},"
                         f" restarts {c.restarts}, {c.players} players"
                         + (f", last exit: {c.last_exit}" if c.last_exit else ""))
            zones = await self.zones(c.number)
            if zones is None:
                lines.extend(f"    zone {zone}: unknown (its world server is not up)"
                             for zone in c.zones)
            for z in zones or []:
                uptime = _uptime(z.uptime_s) if z.state == "up" else "-"
                lines.append(f"    zone {z.zone}: {z.state} on port {z.port}, uptime {uptime},"
                             f" restarts {max(0, z.starts - 1)}, {z.players} players")
        linked = "linked" if d.characters.up.is_set() else "NOT linked"
        lines.append(f"  character server: {linked}, save backlog {len(d.backlog)}"
                     f" character(s), {d.backlog.failures} failed saves so far")
        for imp in layout.imps:
            state = "linked" if imp.linked else "NOT LINKED"
            lines.append(f"  imp {imp.name} on {imp.host} ({imp.address}): {state}, capacity"
                         f" {imp.capacity}, world servers {imp.clusters or 'none'}")
        if not layout.imps:
            lines.append("  imps: none")
        lines.append(f"  reboot: {self._reboot_line()}")
        return "\n".join(lines)

    def _reboot_line(self) -> str:
        r = self.d.rebooter
        parts = [r.phase or "none under way"]
        if r.last_reboot is not None:
            parts.append(f"last {_uptime(time.time() - r.last_reboot)} ago")
        schedule = self.d.schedule
        at = schedule.next_at() if schedule is not None else None
        if at is None:
            parts.append("no daily reboot")
        else:
            assert schedule is not None
            parts.append(f"daily at {schedule.schedule.daily_at} UTC (countdown starts in"
                         f" {_uptime(at - time.time())})")
        return "; ".join(parts)

    async def players(self, args: list[str]) -> str:
        rows = await self.online(args[0] if args else "")
        if not rows:
            return "nobody online"
        return "\n".join(
            f"{row.account:<16} {row.character or '(choosing)':<16} {row.zone or '-':<10}"
            f" world server {row.cluster}  {row.address}" for row in rows)

    # -------------------------------------------------------------- acting
    async def kick(self, args: list[str]) -> str:
        if not args:
            raise UsageError("usage: kick NAME [REASON]  (an account or character name)")
        wanted = args[0].casefold()
        reason = " ".join(args[1:]) or KICK_REASON
        rows = [row for row in await self.online(args[0])
                if wanted in (row.account.casefold(), row.character.casefold())]
        if not rows:
            return f"nobody called '{args[0]}' is online"
        for row in rows:
            registered = self.d.clusters.clusters.get(row.cluster)
            if registered is not None:
                notify(registered[0], KickAccount(row.account_id, reason))
        log.info("console kicked %s: %s", [row.account for row in rows], reason)
        return f"kicked {', '.join(row.account for row in rows)} (saved first): {reason}"

    async def broadcast(self, args: list[str]) -> str:
        text = " ".join(args).strip()
        if not text:
            raise UsageError("usage: broadcast TEXT")
        notice = WorldNotice(self.d.world.name, -1, text[:500])
        answers = await self._ask_each(lambda ws: GMWorldCalls.gm_broadcast.send(ws, notice))
        return f"sent to {sum(answer.players for answer in answers)} players"

    def _countdown(self, args: list[str], index: int, usage: str) -> int:
        default = int(self.d.world.reboot.countdown_s)
        return int_arg(args, index, default=default, low=0, high=MAX_COUNTDOWN_S, usage=usage)

    async def reboot(self, args: list[str]) -> str:
        usage = "usage: reboot all|N [SECONDS]  (N: one world server; SECONDS of warning)"
        numbers = [spec.number for spec in self.d.world.clusters]
        which = args[0] if args else "all"
        if which != "all":
            number = int_arg(args, 0, default=0, low=0, high=999, usage=usage)
            if number not in numbers:
                raise UsageError(f"{usage} (there is no world server {number})")
            numbers = [number]
        seconds = self._countdown(args, 1, usage)
        return self._start("reboot", numbers, seconds)

    async def shutdown(self, args: list[str]) -> str:
        seconds = self._countdown(args, 0, "usage: shutdown [SECONDS]  (SECONDS of warning)")
        return self._start("shutdown", [spec.number for spec in self.d.world.clusters], seconds)

    def _start(self, reason: str, numbers: list[int], seconds: int) -> str:
        try:
            self.d.rebooter.start(reason, numbers, seconds)
        except RuntimeError as exc:
            return f"refused: {exc}"
        log.info("console: %s of world servers %s in %d s", reason, numbers, seconds)
        return (f"{reason} of world server(s) {', '.join(map(str, numbers))} in {seconds} s;"
                " players are warned ('cancel' calls it off during the countdown)")

    async def cancel(self, args: list[str]) -> str:
        if self.d.rebooter.cancel():
            log.info("console: countdown called off")
            told = await self.broadcast(["The announced reboot or shutdown is called off."])
            return f"countdown called off; {told}"
        return "no countdown to call off"

    def commands(self) -> CommandSet:
        commands = CommandSet()
        commands.add("status", "world servers, zones, character server, save backlog, reboots",
                     self.status)
        commands.add("players", "who is online: players [NAME-PREFIX]", self.players)
        commands.add("kick", "save and disconnect a player: kick NAME [REASON]", self.kick)
        commands.add("broadcast", "a message to every player: broadcast TEXT", self.broadcast)
        commands.add("reboot", "countdown, save, restart: reboot all|N [SECONDS]", self.reboot)
        commands.add("shutdown", "countdown, save, stop the world: shutdown [SECONDS]",
                     self.shutdown)
        commands.add("cancel", "call off a reboot or shutdown still counting down", self.cancel)
        return commands
