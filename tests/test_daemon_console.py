"""The daemon console's commands in-process over a stand-in daemon: arguments, refusals, status."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from shardkit.config.settings import ClusterSpec, RebootSchedule, WorldSettings
from shardkit.console.commands import CommandSet
from shardkit.daemon.clusters import ClusterRegistry
from shardkit.daemon.console import DaemonConsole
from shardkit.daemon.layout_schemas import ClusterStatus, ImpStatus, WorldLayout
from shardkit.daemon.reboot import Rebooter
from shardkit.daemon.save_backlog import SaveBacklog
from shardkit.daemon.schedule import ScheduledReboots
from shardkit.wire.link import InboundLink


class Servers:
    async def stop_cluster(self, number: int) -> None:
        raise AssertionError("a countdown of minutes does not get this far in a test")

    async def start_cluster(self, number: int) -> None:
        raise AssertionError("a countdown of minutes does not get this far in a test")


async def _forever(seconds: float) -> None:
    await asyncio.Event().wait()


@dataclass
class StandInDaemon:
    world: WorldSettings = field(default_factory=lambda: WorldSettings(
        clusters=[ClusterSpec(0, ["town", "meadow"]), ClusterSpec(1, ["harbor"], "imp:far")],
        reboot=RebootSchedule(daily_at="04:30")))
    clusters: ClusterRegistry = field(default_factory=lambda: ClusterRegistry("Atlantis"))
    characters: InboundLink = field(default_factory=lambda: InboundLink("the character server"))
    schedule: ScheduledReboots | None = None

    def layout(self) -> WorldLayout:
        def cluster(number: int, zones: list[str], host: str, state: str) -> ClusterStatus:
            return ClusterStatus(number, zones, host, host, state, state == "crash_loop", None,
                                 "", 0, 2, 1, 0.0, 0.0, "exited with code 1", [], [])

        return WorldLayout("Atlantis", [cluster(0, ["town", "meadow"], "local", "starting"),
                                        cluster(1, ["harbor"], "imp:far", "crash_loop")],
                           [ImpStatus("far", "far.example", "10.0.0.9", 2, False, [1])])

    def __post_init__(self) -> None:
        self.rebooter = Rebooter(self.clusters, Servers(), on_shutdown=lambda: None,
                                 sleep=_forever)
        self.backlog = SaveBacklog(self.characters)
        self.schedule = ScheduledReboots(self.world.reboot, lambda s: None, lambda: None)


def console() -> tuple[CommandSet, StandInDaemon]:
    daemon = StandInDaemon()
    return DaemonConsole(daemon).commands(), daemon


async def test_reboot_and_shutdown_arguments() -> None:
    commands, daemon = console()
    assert (await commands.execute("reboot 5")).endswith("(there is no world server 5)")
    assert (await commands.execute("reboot abc")).startswith("usage: reboot all|N [SECONDS]")
    assert (await commands.execute("reboot all -3")).startswith("usage: reboot")
    assert (await commands.execute("shutdown soon")).startswith("usage: shutdown [SECONDS]")
    assert await commands.execute("cancel") == "no countdown to call off"
    answer = await commands.execute("reboot 1 30")
    assert answer.startswith("reboot of world server(s) 1 in 30 s; players are warned")
    assert daemon.rebooter.busy
    await asyncio.sleep(0)
    assert (await commands.execute("shutdown")).startswith("refused: a countdown: reboot in")
    assert await commands.execute("cancel") == "countdown called off; sent to 0 players"
    await asyncio.sleep(0)
    assert not daemon.rebooter.busy
    answer = await commands.execute("shutdown")  # the world's countdown_s by default
    assert answer.startswith("shutdown of world server(s) 0, 1 in 600 s")
    assert daemon.rebooter.cancel()


async def test_kick_and_broadcast_need_their_words() -> None:
    commands, _ = console()
    assert (await commands.execute("kick")).startswith("usage: kick NAME [REASON]")
    assert await commands.execute("kick Nobody") == "nobody called 'Nobody' is online"
    assert await commands.execute("broadcast") == "usage: broadcast TEXT"
    assert await commands.execute("broadcast hello all") == "sent to 0 players"
    assert await commands.execute("players") == "nobody online"


async def test_status_of_a_world_whose_servers_are_not_up_yet() -> None:
    commands, daemon = console()
    daemon.backlog.waiting[7] = "Hero"
    daemon.backlog.failures = 3
    status = (await commands.execute("status")).splitlines()
    assert status[0] == "world Atlantis: 0/2 world servers up, 0 players online"
    assert status[1] == ("  world server 0 on local at -: starting, pid -, uptime 0h00m00s,"
                         " restarts 1, 0 players, last exit: exited with code 1")
    assert "    zone town: unknown (its world server is not up)" in status
    assert any(line.startswith("  world server 1 on imp:far at -: crash_loop CRASH LOOP")
               for line in status)
    assert ("  imp far on far.example (10.0.0.9): NOT LINKED, capacity 2, world servers [1]"
            in status)
    assert ("  character server: NOT linked, save backlog 1 character(s), 3 failed saves so far"
            in status)
    assert status[-1].startswith("  reboot: none under way; daily at 04:30 UTC")
