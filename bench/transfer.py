"""Zone-transfer latency between two WorldServers: from stepping into a portal to the first sync.

    python bench/transfer.py [--transfers 100] [--tick-hz 10]

Starts a whole cluster with ``shardkit up`` on free loopback ports (SQLite), with content of
its own: zone ``east`` on WorldServer 0 and zone ``west`` on WorldServer 1, each with a
portal to the other whose arrival point is 3 units from the way back (one tick's walk). One
player walks into the portal, is moved to the other WorldServer's zone by the client
library, and walks straight back in, ``--transfers`` times.

Each transfer is timed from the moment the client sees itself inside the portal (the sync of
the tick in which the zone found it there: the zone starts the transfer in that tick) to
the first ``sync`` in the target zone that shows it (its first snapshot there); ``entered``
is the time to the target zone's ``zone_login`` answer. The target zone sends the first
snapshot right after that answer (the view as of its latest tick). Prints each
transfer as it goes; the last line is one JSON object with ``transfers``, ``transfer_p50_ms``,
``transfer_p99_ms``, ``entered_p50_ms``, ``entered_p99_ms`` and ``tick_hz``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from shardkit.client.session import GameClient  # noqa: E402
from shardkit.config.settings import load_settings  # noqa: E402
from shardkit.testing.harness import start_shardkit, write_cluster_config  # noqa: E402
from shardkit.up import READY_LINE  # noqa: E402

WORLD = "Atlantis"
PASSWORD = "transfer bench password"
PORTAL = (100.0, 90.0, 10.0, 20.0)  # x, y, width, height: the same in both zones
ARRIVAL = (97.0, 100.0)  # 3 units west of the portal

SECOND_SERVER = """
[[clusters]]
number = 1
zones = ["west"]
runs_on = "local"
"""

CONTENT = {
    "players.toml": """
[players]
speed = 40.0
hp = 100
hp_per_level = 10
damage = 10
damage_per_level = 2
attack_range = 3.0
attack_cooldown_s = 0.5
respawn_s = 1.0
level_xp = [10, 30, 60]
""",
    "items.toml": """
[items.token]
name = "Token"
value = 1
""",
    "npcs.toml": """
[npcs.post]
name = "Post"
level = 1
hp = 5
speed = 0.0
wander_radius = 0.0
notice_radius = 0.0
damage = 0
xp = 0
""",
    "zones.toml": "\n".join(f"""
[zones.{zone}]
width = 200.0
height = 200.0
spawn = [20.0, 100.0]
spawn_area = {{ x = 10.0, y = 90.0, width = 20.0, height = 20.0 }}

[[zones.{zone}.portals]]
name = "to {other}"
area = {{ x = {PORTAL[0]}, y = {PORTAL[1]}, width = {PORTAL[2]}, height = {PORTAL[3]} }}
target_zone = "{other}"
target = [{ARRIVAL[0]}, {ARRIVAL[1]}]
""" for zone, other in (("east", "west"), ("west", "east"))),
}


def in_portal(x: float, y: float) -> bool:
    px, py, width, height = PORTAL
    return px <= x <= px + width and py <= y <= py + height


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def one_transfer(client: GameClient) -> tuple[float, float]:
    """Walk into the portal, and time the crossing: (to the first snapshot, to entered), ms."""
    assert client.entered is not None
    here = client.entered.zone
    goal_x, goal_y = PORTAL[0] + PORTAL[2] / 2, PORTAL[1] + PORTAL[3] / 2

    def stepped_in(state: object) -> bool:
        me = client.me()
        if me is None or client.entered is None or client.entered.zone != here:
            return False
        if in_portal(me.x, me.y):
            return True
        dx, dy = goal_x - me.x, goal_y - me.y
        distance = max(1e-6, (dx * dx + dy * dy) ** 0.5)
        client.move(dx / distance, dy / distance)  # steer at every tick
        return False

    await client.wait_for(stepped_in, timeout=30)
    started = time.perf_counter()
    entered_at: list[float] = []

    def arrived(state: object) -> bool:
        if client.entered is None or client.entered.zone == here:
            return False
        if not entered_at:
            entered_at.append(time.perf_counter())
        return client.me() is not None

    await client.wait_for(arrived, timeout=30)
    done = time.perf_counter()
    return (done - started) * 1000, (entered_at[0] - started) * 1000


async def run(master_port: int, transfers: int) -> tuple[list[float], list[float]]:
    client = GameClient("127.0.0.1", master_port)
    await client.register("hopper", PASSWORD)
    await client.login("hopper", PASSWORD)
    await client.enter_world(WORLD)
    await client.create_character("Hopper")
    await client.enter_game("Hopper")
    await client.wait_for(lambda s: client.me() is not None)
    to_first_sync: list[float] = []
    to_entered: list[float] = []
    try:
        for n in range(1, transfers + 1):
            assert client.entered is not None
            here = client.entered.zone
            first_sync, entered = await one_transfer(client)
            to_first_sync.append(first_sync)
            to_entered.append(entered)
            assert client.entered is not None
            print(f"transfer {n:4d} {here} -> {client.entered.zone}: first snapshot"
                  f" {first_sync:7.1f} ms, entered {entered:7.1f} ms", flush=True)
    finally:
        await client.close()
    return to_first_sync, to_entered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--transfers", type=int, default=100)
    parser.add_argument("--tick-hz", type=float, default=10.0,
                        help="the zones' tick rate (the default world's is 10)")
    parser.add_argument("--root", type=Path, default=None,
                        help="where the cluster keeps its config and data (default: a temp dir)")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="shardkit-transfer-bench-"))
    content = root / "bench_content"
    content.mkdir(parents=True, exist_ok=True)
    for name, text in CONTENT.items():
        (content / name).write_text(text)
    write_cluster_config(root, zones=("east",), extra_clusters=SECOND_SERVER,
                         content_dir=str(content))
    world_file = root / "serverconfig" / "worlds" / f"{WORLD}.toml"
    lines = world_file.read_text().splitlines()  # the test config's tick rate: ours instead
    world_file.write_text("\n".join(f"tick_hz = {args.tick_hz}" if line.startswith("tick_hz")
                                    else line for line in lines) + "\n")
    print(f"starting a cluster in {root} (WorldServer 0: east, WorldServer 1: west)", flush=True)
    up = start_shardkit(root, "up")
    try:
        up.wait_for_line(READY_LINE, timeout=120)
        settings = load_settings(root)
        first_sync, entered = asyncio.run(run(settings.server.master.port, args.transfers))
    finally:
        code = up.stop()
    summary = {
        "transfers": len(first_sync),
        "transfer_p50_ms": round(percentile(first_sync, 50), 2),
        "transfer_p99_ms": round(percentile(first_sync, 99), 2),
        "entered_p50_ms": round(percentile(entered, 50), 2),
        "entered_p99_ms": round(percentile(entered, 99), 2),
        "tick_hz": args.tick_hz,
    }
    print(f"{summary['transfers']} transfers: first snapshot p50 {summary['transfer_p50_ms']} ms,"
          f" p99 {summary['transfer_p99_ms']} ms; entered p50 {summary['entered_p50_ms']} ms,"
          f" p99 {summary['entered_p99_ms']} ms (cluster exit code {code})", flush=True)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
