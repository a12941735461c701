"""The daemon supervises its WorldServers: a SIGKILLed one is restarted and loses no
acknowledged save; one that exits at once is marked crash-looping and restarted no faster
than its back-off allows (times from the daemon's ``world_layout`` call)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from test_durability import PASSWORD, Progress, Walker, stored_character

from shardkit.client.session import GameClient
from shardkit.config.settings import Settings, load_settings
from shardkit.daemon.api import DaemonApi
from shardkit.daemon.layout_schemas import ClusterStatus, WorldLayout
from shardkit.store.database import Database
from shardkit.testing.harness import start_shardkit, write_cluster_config
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import connect

pytestmark = pytest.mark.cluster

FAST_BACKOFF = """
[supervision]
backoff_s = 0.3
backoff_max_s = 1.2
stable_s = 60.0
crash_loop_exits = 3
"""


async def world_layout(settings: Settings, world: str = "Atlantis") -> WorldLayout:
    """The daemon's world_layout, asked as a tool holding the world's link secret would."""
    daemon = settings.worlds[world].daemon
    conn = await connect("127.0.0.1", daemon.world_port)
    try:
        await authenticate_service(conn, role="world", name=f"{world}/status", peer_role="daemon",
                                   secret=settings.secrets.world_link_key(world))
        return await DaemonApi(conn).world_layout()
    finally:
        conn.close()


async def wait_for_cluster(settings: Settings, number: int, check: Callable[[ClusterStatus], bool],
                           timeout: float = 60.0) -> ClusterStatus:
    """Ask the daemon until cluster ``number`` passes ``check`` (every 0.1 s, up to timeout)."""
    deadline = time.monotonic() + timeout
    last: ClusterStatus | None = None
    while time.monotonic() < deadline:
        try:
            layout = await world_layout(settings)
        except OSError:
            layout = None  # the daemon is still starting
        if layout is not None:
            last = next(c for c in layout.clusters if c.number == number)
            if check(last):
                return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"cluster {number} never got there; last status: {last}")


async def test_world_server_sigkilled_under_load_is_restarted_and_loses_no_save(
        tmp_path: Path) -> None:
    from conftest import start_cluster

    cluster = await asyncio.to_thread(start_cluster, tmp_path, zones=("town",),
                                      save_interval_s=0.3, world_extra=FAST_BACKOFF)
    try:
        progress = Progress()
        walkers = [Walker(f"loadwalker{i}", f"Loader{'abcd'[i]}", progress) for i in range(4)]
        for walker in walkers:
            client = GameClient("127.0.0.1", cluster.master_port)
            await client.register(walker.name, PASSWORD)
            await client.login(walker.name, PASSWORD)
            await client.enter_world("Atlantis")
            await client.create_character(walker.character)
            await client.close()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.play(cluster.master_port, stop)) for w in walkers]
        await progress.reach(2 * len(walkers), timeout=60)  # under load: everyone saving

        before = await wait_for_cluster(cluster.settings, 0, lambda c: c.state == "running")
        assert before.pid is not None and before.restarts == 0
        os.kill(before.pid, signal.SIGKILL)
        after = await wait_for_cluster(
            cluster.settings, 0,
            lambda c: c.state == "running" and c.pid not in (None, before.pid))
        assert after.restarts == 1 and not after.crash_loop
        assert "SIGKILL" in after.last_exit, after
        assert after.exit_times and after.start_times[-1] >= after.exit_times[-1]

        # the players get back in and save again on the new WorldServer
        await progress.reach(progress.count + 2 * len(walkers), timeout=60)
        stop.set()
        await asyncio.gather(*tasks)
        url = cluster.database_url("characters")
        assert await asyncio.to_thread(cluster.up.stop) == 0
        db = await Database.open(url, schema="characters")
        try:
            for walker in walkers:
                assert walker.saved, f"{walker.character} never had a save acknowledged"
                stored = await stored_character(db, walker.character)
                last = max(version for version, _, _ in walker.saved)
                assert stored.version >= last, (walker.character, stored.version, last)
        finally:
            await db.close()
    finally:
        await asyncio.to_thread(cluster.stop)


async def test_crash_looping_world_server_is_marked_and_backed_off(tmp_path: Path) -> None:
    # a WorldServer whose zone the content does not define exits at once, every time
    write_cluster_config(tmp_path, zones=("nowhere",), world_extra=FAST_BACKOFF)
    settings = load_settings(tmp_path)
    daemon = start_shardkit(tmp_path, "daemon", "--world", "Atlantis")
    try:
        looping = await wait_for_cluster(settings, 0, lambda c: c.crash_loop, timeout=90)
        assert looping.state == "crash_loop"
        assert looping.starts >= 3 and looping.next_start_in_s <= 1.2
        # wait for two more starts to see the longest back-off hold too
        seen = looping.starts
        status = await wait_for_cluster(settings, 0, lambda c: c.starts >= seen + 2, timeout=60)
        starts, exits = status.start_times, status.exit_times
        assert len(exits) >= 4, status
        # each start after an exit came no sooner than that exit's back-off: 0.3, 0.6, 1.2, 1.2
        for index in range(1, min(len(starts), len(exits) + 1)):
            wanted = min(0.3 * 2 ** (index - 1), 1.2)
            gap = starts[index] - exits[index - 1]
            assert gap >= wanted - 0.05, (index, gap, wanted, status)
            assert gap < wanted + 5.0, (index, gap, wanted, status)  # ...but it did restart
        assert "exited with code 2" in status.last_exit, status
        # and so do the daemon's metrics
        index = daemon.wait_for_line("daemon Atlantis metrics (http) listening on", 10)
        address = daemon.lines[index].rsplit(" ", 1)[-1]
        metrics = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://{address}/metrics", timeout=10).read())
        looping_lines = [line for line in metrics.decode().splitlines()
                         if line.startswith("shardkit_daemon_world_server_crash_loop{")]
        assert len(looping_lines) == 1 and looping_lines[0].endswith(" 1.0"), looping_lines
        assert 'cluster="0"' in looping_lines[0], looping_lines
    finally:
        assert daemon.stop() == 0, "\n".join(daemon.lines[-30:])
