"""A world rebooted from its daemon's telnet console, and a WorldServer killed: players follow.

Real processes (``shardkit up``) and sockets; the console is driven with telnetlib3's telnet
client; the players are the client library, never restarted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest
from conftest import Cluster, start_cluster
from test_terminal_client import Terminal
from world_support import (
    DaemonTelnet,
    daemon_console,
    daemon_log_lines,
    player_in_game,
    world_server_pid,
)

from shardkit.client.session import GameClient
from shardkit.wire.rpc import RpcError
from shardkit.zone.notifications import Saved

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

BACK_S = 90.0  # upper bound for a client to be back in the game after its WorldServer went


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("reboot"), save_interval_s=1.0)
    yield running
    code = running.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])


def _final_save(client: GameClient) -> Saved:
    saved = client.state.saved
    assert saved is not None
    return saved


async def test_console_reboot_warns_saves_and_brings_everyone_back(cluster: Cluster) -> None:
    players = [await player_in_game(cluster, f"rebooter{i}", f"Reboot{'ab'[i]}") for i in range(2)]
    console = await daemon_console(cluster)
    try:
        status = await console.run("status")
        assert "world server 0 on local" in status and ": running," in status, status
        assert "2 players online" in status, status
        assert "zone town: up on port" in status and "zone meadow: up on port" in status, status
        assert "character server: linked, save backlog 0" in status, status
        online = await console.run("players")
        assert "Reboota" in online and "Rebootb" in online, online

        for client in players:  # they walk all through the countdown: the last save counts
            client.move(1.0, 0.0)
        first_line = len(cluster.up.lines)
        answer = await console.run("reboot all 3")
        assert answer.startswith("reboot of world server(s) 0 in 3 s"), answer

        finals: list[Saved] = []
        for client in players:
            await client.wait_for(lambda s: any("reboots in 3 s" in n for n in s.notices))
            await client.wait_for(lambda s: s.world_lost == "reboot", timeout=30)
            assert any("reboots now" in n for n in client.state.notices), client.state.notices
            finals.append(_final_save(client))
        for client, final in zip(players, finals, strict=True):
            await client.wait_for(lambda s: s.rejoined == 1, timeout=BACK_S)
            entered = client.entered
            assert entered is not None and entered.zone == final.zone
            # back where the final save of the reboot left it: that save was made and kept
            assert abs(entered.x - final.x) < 0.01 and abs(entered.y - final.y) < 0.01
            assert entered.x > 0.5 + min(f.x for f in finals) - 10  # it had walked
        players[0].say("we are back")
        await players[1].wait_for(lambda s: ("Reboota", "we are back") in s.chat, timeout=15)

        status = await console.run("status")
        assert "restarts 1" in status and "last 0h" in status, status
        logged = cluster.up.lines[first_line:]
        daemon_log = daemon_log_lines(cluster)
        assert any("planned reboot of Atlantis done" in line for line in daemon_log)
        assert any("planned reboot of Atlantis: stopping world servers" in line
                   for line in daemon_log)
        crashes = [line for line in logged
                   if "restarting in" in line or "its supervisor restarts it" in line]
        assert not crashes, crashes
    finally:
        console.close()
        for client in players:
            await client.close()


async def test_killed_world_server_players_are_back_without_restarting(cluster: Cluster) -> None:
    players = [await player_in_game(cluster, f"survivor{i}", f"Survive{'ab'[i]}") for i in range(2)]
    try:
        for client in players:
            client.move(0.0, 1.0)
            await client.wait_for(lambda s: s.saved is not None, timeout=15)
        pid = world_server_pid(daemon_log_lines(cluster))
        os.kill(pid, signal.SIGKILL)
        for client in players:
            await client.wait_for(lambda s: s.world_lost == "crash", timeout=10)
        for client in players:
            await client.wait_for(lambda s: s.rejoined == 1, timeout=BACK_S)
            assert client.entered is not None
            client.say("still alive")
        await players[0].wait_for(lambda s: ("Surviveb", "still alive") in s.chat, timeout=15)
        assert world_server_pid(daemon_log_lines(cluster)) != pid
    finally:
        for client in players:
            await client.close()


def _started_pid(lines: list[str], name: str) -> int:
    """The pid of the latest start of one of ``shardkit up``'s children."""
    found = [line for line in lines if f"started {name} (pid " in line]
    assert found, f"no start of {name} in the output"
    return int(found[-1].rsplit("(pid ", 1)[1].rstrip(")"))


async def _backlog(console: DaemonTelnet, wanted: str) -> str:
    """Poll the console's status until its save backlog line shows ``wanted``."""
    deadline = time.monotonic() + 60
    while True:
        status = await console.run("status")
        if f"save backlog {wanted} " in status:
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.5)


async def _enter_world_error(client: GameClient) -> str:
    """Poll ``enter_world`` until it is refused; the error code."""
    deadline = time.monotonic() + 20
    while True:
        try:
            await client.enter_world("Atlantis")
        except RpcError as exc:
            return exc.code
        assert time.monotonic() < deadline, "enter_world was never refused"
        await asyncio.sleep(0.3)


async def test_character_server_away_players_play_and_saves_catch_up(cluster: Cluster) -> None:
    player = await player_in_game(cluster, "outlaster", "Outlast")
    newcomer = GameClient("127.0.0.1", cluster.master_port)
    await newcomer.register("latecomer", "latecomer waits")
    await newcomer.login("latecomer", "latecomer waits")
    console = await daemon_console(cluster)
    up = cluster.up.process.pid
    try:
        await player.wait_for(lambda s: s.saved is not None, timeout=15)
        await _backlog(console, "0")
        os.kill(up, signal.SIGSTOP)  # so `shardkit up` does not restart it at once
        try:
            os.kill(_started_pid(cluster.up.lines, "characters"), signal.SIGKILL)
            me = player.me()
            assert me is not None
            player.move(1.0, 0.0)  # the zone plays on without the character server
            await player.wait_for(lambda s: (m := player.me()) is not None and m.x > me.x + 2)
            assert await _enter_world_error(newcomer) == "unavailable"
            status = await _backlog(console, "1")
            assert "character server: NOT linked" in status, status
            saved_before = player.state.saved
            assert saved_before is not None
        finally:
            os.kill(up, signal.SIGCONT)
        # back: the waiting saves go through, the backlog empties, the newcomer gets in
        await player.wait_for(lambda s: s.saved is not None
                              and s.saved.version > saved_before.version, timeout=60)
        await _backlog(console, "0")
        deadline = time.monotonic() + 30
        while True:
            try:
                await newcomer.enter_world("Atlantis")
                break
            except RpcError as exc:
                assert exc.code in ("unavailable", "world_down"), exc
                assert time.monotonic() < deadline, exc
                await asyncio.sleep(0.5)
        player.move(0.0, 0.0)
    finally:
        console.close()
        await player.close()
        await newcomer.close()


def test_plain_client_follows_a_reboot_and_plays_on(cluster: Cluster) -> None:
    """``shardkit play`` through a console reboot: the countdown and the way back are shown,
    and the game prompt works again without typing anything."""
    term = Terminal("--host", "127.0.0.1", "--port", str(cluster.master_port))
    try:
        term.expect(r"\[l\]ogin / \[r\]egister / \[q\]uit")
        for line in ("r", "plainfollower", "follows the world"):
            term.send(line)
        term.expect("account plainfollower created")
        for line in ("l", "plainfollower", "follows the world"):
            term.send(line)
        term.expect(r"1\. Atlantis\s+up")
        term.send("1")
        term.expect("entered Atlantis")
        term.send("create Plainfollow")
        term.expect("created Plainfollow")
        term.send("play Plainfollow")
        term.expect(r"you are Plainfollow in zone town")

        async def reboot() -> str:
            console = await daemon_console(cluster)
            try:
                return await console.run("reboot all 2")
            finally:
                console.close()

        assert asyncio.run(reboot()).startswith("reboot of world server(s) 0 in 2 s")
        term.expect(r"^\[notice\] The world Atlantis reboots in 2 s; your character is saved")
        term.expect(r"^\[notice\] the world server is rebooting; back in about \d+ s;"
                    r" getting back in by itself")
        term.expect(r"^\[notice\] back in Atlantis as Plainfollow$", timeout=BACK_S)
        term.send("look")
        term.expect(r"you are at \(-?[\d.]+, -?[\d.]+\) in town")
        term.send("say back again")
        term.expect(r"^\[chat\] Plainfollow: back again$")
        term.send("quit")
        term.expect("logged out; Plainfollow is saved")
    finally:
        term.close()
