"""Time from a daemon asking a WorldImp for a WorldServer to that WorldServer admitting a player.

Runs master, GM and character server as processes, the world's daemon in this process (so
the moment it asks is known exactly) and a WorldImp as a process, all on loopback. Each
spawn: the daemon's ``start_world`` to the imp, the new WorldServer registering with the
daemon, then a player's ticket login there (a world ticket from the master, the dial, the
login). The imp keeps a warm standby (world/standby.py), so a start is a hand-over; a few
cold starts (an imp with ``--no-standby``) are timed too, for comparison.

    python bench/imp_spawn.py [--spawns 20] [--cold 3]

Prints each spawn as it goes; the last line is one JSON object (``spawn_p50_ms``,
``spawn_p99_ms``, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shardkit.client.session import GameClient
from shardkit.config.settings import load_settings
from shardkit.daemon.server import WorldDaemon
from shardkit.imp.api import ImpApi
from shardkit.imp.schemas import STANDBY_READY, StartWorld, StopWorld
from shardkit.testing.harness import RunningProcess, start_shardkit, write_cluster_config

CLUSTERS = """
[[clusters]]
number = 1
zones = ["meadow"]
runs_on = "imp:warm"
[[clusters]]
number = 2
zones = ["harbor"]
runs_on = "imp:cold"
"""


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"imp_spawn: {what} did not happen within {timeout:.0f} s")
        await asyncio.sleep(0.002)


def count_lines(process: RunningProcess, text: str) -> int:
    return sum(1 for line in list(process.lines) if text in line)


async def spawn_once(daemon: WorldDaemon, imp_name: str, cluster: int, client: GameClient,
                     imp: RunningProcess, warm: bool) -> tuple[float, float, float]:
    """One stop and start; (imp answered, registered, player admitted) in ms from the ask."""
    book = daemon.supervisor.book
    conn = book.imps[imp_name].conn
    assert conn is not None
    api = ImpApi(conn)
    await api.stop_world(StopWorld(daemon.world.name, cluster))
    await until(lambda: cluster not in daemon.clusters.clusters, 30, "the old WorldServer leaving")
    if warm:  # each warm spawn gets a ready standby, as an imp that has been idle a moment has
        await until(lambda: imp.lines and count_lines(imp, STANDBY_READY) >= 1 + len(
            [line for line in imp.lines if "handed to the standby" in line]), 120,
            "a standby getting ready")
    started = time.perf_counter()
    await api.start_world(StartWorld(daemon.world.name, cluster, "127.0.0.1",
                                     daemon.supervisor.daemon_port))
    answered = time.perf_counter()
    await until(lambda: cluster in daemon.clusters.clusters, 120, "the WorldServer registering")
    registered = time.perf_counter()
    _, registration = daemon.clusters.clusters[cluster]
    await client.enter_world(daemon.world.name, port=registration.port, cluster=cluster)
    admitted = time.perf_counter()
    assert client.world is not None
    client.world.close("next spawn")
    client.world = None
    return tuple(1000 * (t - started) for t in (answered, registered, admitted))  # type: ignore[return-value]


async def bench(root: Path, spawns: int, cold: int) -> dict[str, object]:
    write_cluster_config(root, zones=("town",), extra_clusters=CLUSTERS)
    settings = load_settings(root)
    world = settings.world("Atlantis")
    processes = [start_shardkit(root, name) for name in ("master", "gm", "characters")]
    processes[0].wait_for_line("master listening", 120)
    daemon = WorldDaemon(settings, world)
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run(stop))
    imp_port = str(world.daemon.imp_port)
    warm_imp = start_shardkit(root, "imp", "--daemon", f"127.0.0.1:{imp_port}", "--name", "warm")
    cold_imp = start_shardkit(root, "imp", "--daemon", f"127.0.0.1:{imp_port}", "--name", "cold",
                              "--no-standby")
    processes += [warm_imp, cold_imp]
    client = GameClient("127.0.0.1", settings.server.master.port)
    try:
        await until(lambda: {0, 1, 2} <= set(daemon.clusters.clusters), 300,
                    "every WorldServer registering")
        print("cluster up: daemon in-process, imps 'warm' (standby) and 'cold'", flush=True)
        await client.register("spawnbench", "spawn spawn spawn")
        await client.login("spawnbench", "spawn spawn spawn")
        results: dict[str, list[tuple[float, float, float]]] = {"warm": [], "cold": []}
        for kind, imp_name, cluster, count, process in (
                ("warm", "warm", 1, spawns, warm_imp), ("cold", "cold", 2, cold, cold_imp)):
            for index in range(count):
                answered, registered, admitted = await spawn_once(
                    daemon, imp_name, cluster, client, process, kind == "warm")
                results[kind].append((answered, registered, admitted))
                print(f"{kind} spawn {index + 1}/{count}: imp answered {answered:.0f} ms,"
                      f" registered {registered:.0f} ms, first player admitted {admitted:.0f} ms",
                      flush=True)
    finally:
        await client.close()
        stop.set()
        await running
        for process in reversed(processes):
            process.stop()
    warm_admit = [r[2] for r in results["warm"]]
    figures: dict[str, object] = {
        "spawns": len(warm_admit),
        "spawn_p50_ms": round(statistics.median(warm_admit), 1),
        "spawn_p99_ms": round(percentile(warm_admit, 0.99), 1),
        "registered_p50_ms": round(statistics.median(r[1] for r in results["warm"]), 1),
        "imp_answer_p50_ms": round(statistics.median(r[0] for r in results["warm"]), 1),
    }
    if results["cold"]:
        figures["cold_spawns"] = len(results["cold"])
        figures["cold_spawn_p50_ms"] = round(statistics.median(r[2] for r in results["cold"]), 1)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawns", type=int, default=20)
    parser.add_argument("--cold", type=int, default=3, help="cold starts to time (no standby)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imp-spawn-") as tmp:
        figures = asyncio.run(bench(Path(tmp), args.spawns, args.cold))
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
