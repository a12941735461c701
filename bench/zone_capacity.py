"""Zone capacity over real sockets: bots walking in one zone process of a real cluster.

    python bench/zone_capacity.py                       # 500, 1000 and 2000 bots, random on the map
    python bench/zone_capacity.py --bots 1000 --crowd   # every bot within 50 units of one point
    python bench/zone_capacity.py --bots 2000 --duration 60 --procs 2

One cluster for all sizes (``shardkit up`` on free ports in a temporary folder, SQLite) whose
one WorldServer runs one zone, ``plain``: ``--map`` units a side, players walk ``--speed`` units a
second, view radius ``--aoi-radius``, 10 ticks a second. Its config lets one address register as
many accounts as there are bots (the master's per-address registration brake, ``[master]
registrations_per_ip``, stays on) and the world holds them all. ``shardkit bots`` (its own
processes) logs the bots in, each walking in a random direction that changes every 2-5 s, and
measures ``--duration`` seconds once all are in. Printed per size: the zone's tick time p50/p99
(its ``shardkit_zone_recent_tick_seconds``: the last 600 ticks, a minute), ticks over 50 ms and
late ticks in the window, snapshots delivered per client per second against the tick rate,
input-to-visible latency, bytes per client per second, zone memory per player (RSS growth over
the idle zone / bots; sizes run smallest first, so a size also holds what the smaller ones left),
the CPU of the zone process and of the bots. The last line is one JSON object: ``runs`` and the
largest run's figures.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from shardkit.testing.harness import (  # noqa: E402
    RunningProcess,
    start_shardkit,
    write_cluster_config,
)
from shardkit.up import READY_LINE  # noqa: E402

TICK_HZ = 10.0
CROWD_RADIUS = 50.0
ZONE = "plain"
WORLD = "Atlantis"
METRICS_LINE = re.compile(rf"zone {WORLD}/{ZONE} metrics \(http\) listening on ([\d.]+):(\d+)")
SAMPLE = re.compile(r"^(\w+)(?:\{([^}]*)\})? (\S+)$")


def write_content(folder: Path, args: argparse.Namespace) -> None:
    size = float(args.map)
    if args.crowd:  # a square inside the circle of CROWD_RADIUS around the middle
        half = CROWD_RADIUS / 2 ** 0.5 - 0.5
        x0, side = size / 2 - half, 2 * half
        spawn = f"{{ x = {x0}, y = {x0}, width = {side}, height = {side} }}"
    else:
        spawn = f"{{ x = 0.0, y = 0.0, width = {size}, height = {size} }}"
    folder.mkdir(parents=True)
    (folder / "zones.toml").write_text(
        f"[zones.{ZONE}]\nwidth = {size}\nheight = {size}\nspawn = [{size / 2}, {size / 2}]\n"
        f"spawn_area = {spawn}\n")
    (folder / "players.toml").write_text(f"[players]\nspeed = {float(args.speed)}\n")


def scrape(port: int) -> dict[str, float]:
    """The zone's /metrics as {name or name{labels}: value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            name, labels, value = match.groups()
            quantile = re.search(r'quantile="([^"]+)"', labels or "")
            le = re.search(r'(?:^|,)le="([^"]+)"', labels or "")
            key = name + (f"[{quantile.group(1)}]" if quantile else "") + \
                (f"[le={le.group(1)}]" if le else "")
            values[key] = float(value)
    return values


def zone_metrics_port(up: RunningProcess) -> int:
    """The zone's metrics port, from the latest announcement (a restarted zone has a new one)."""
    up.wait_for_line(f"zone {WORLD}/{ZONE} metrics", 60)
    with up.cond:
        lines = list(up.lines)
    for line in reversed(lines):
        match = METRICS_LINE.search(line)
        if match:
            return int(match.group(2))
    raise AssertionError("the zone never announced its metrics port")


def zone_starts(up: RunningProcess) -> int:
    with up.cond:
        return sum(1 for line in up.lines if METRICS_LINE.search(line))


def run_all(sizes: list[int], args: argparse.Namespace) -> list[dict[str, object]]:
    """One cluster for every size (the accounts are registered once), smallest size first."""
    most = max(sizes)
    root = Path(tempfile.mkdtemp(prefix="shardkit-capacity-"))
    write_content(root / "content", args)
    write_cluster_config(
        root, zones=(ZONE,), content_dir=str(root / "content"), capacity=most + 100,
        # every size's bots try to register (taken: they log in), and each try counts
        master_options={"registrations_per_ip": sum(sizes) + 100}, tick_hz=TICK_HZ,
        world_extra=f"view_radius = {float(args.aoi_radius)}", save_interval_s=300.0)
    up = start_shardkit(root, "up")
    runs = []
    try:
        up.wait_for_line(READY_LINE, 120)
        time.sleep(2)  # the zone settles (its imports, its first ticks)
        idle = scrape(zone_metrics_port(up))
        for bots in sorted(sizes):
            starts = zone_starts(up)
            runs.append(drive_bots(bots, args, root, up, idle))
            runs[-1]["zone_restarts"] = zone_starts(up) - starts
            if runs[-1]["zone_restarts"]:
                print(f"  the zone restarted {runs[-1]['zone_restarts']} time(s) during this size",
                      flush=True)
            wait_empty(up)
    finally:
        up.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return runs


def wait_empty(up: RunningProcess, timeout: float = 120.0) -> None:
    """Wait until the zone has no players (the bots of the last size logged out)."""
    deadline = time.monotonic() + timeout
    while scrape(zone_metrics_port(up)).get("shardkit_zone_players", 0) > 0:
        if time.monotonic() > deadline:
            raise SystemExit("the zone still has players after the bots ended")
        time.sleep(1)


def drive_bots(bots: int, args: argparse.Namespace, root: Path, up: RunningProcess,
               idle: dict[str, float]) -> dict[str, object]:
    size = float(args.map)
    middle = size / 2
    fence = (f"{middle},{middle},{CROWD_RADIUS}" if args.crowd
             else f"5,5,{size - 5},{size - 5}")
    command = ["--root", str(root), "--bots", str(bots), "--duration", str(args.duration),
               "--procs", str(args.procs), "--fence", fence, "--login-rate",
               str(args.login_rate), "--json"]
    process = start_shardkit_bots(command)
    start: dict[str, float] | None = None
    start_at = 0.0
    end: dict[str, float] | None = None
    end_at = 0.0
    assert process.process.stdout is not None
    at = 0
    while True:
        with process.cond:
            while at >= len(process.lines) and not process.eof:
                process.cond.wait(1.0)
            new, at = process.lines[at:], len(process.lines)
            finished = process.eof and not new
        for line in new:
            print(f"  {line}", flush=True)
            if start is None and "measuring:" in line:
                start, start_at = scrape(zone_metrics_port(up)), time.monotonic()
            if end is None and line.startswith("bots: ") and "connected" in line:
                end, end_at = scrape(zone_metrics_port(up)), time.monotonic()
        if finished:
            break
    code = process.process.wait()
    # the report is the bots' last JSON line (anything the bots log while closing comes after)
    reports = [line for line in process.lines if line.startswith("{")]
    report = json.loads(reports[-1]) if reports else {}
    if code != 0 or start is None or end is None:
        raise SystemExit(f"the bots failed (exit {code}); see their output above")
    window = max(end_at - start_at, 1e-6)
    ticks = end["shardkit_zone_tick_seconds_count"] - start["shardkit_zone_tick_seconds_count"]
    slow = ticks - (end["shardkit_zone_tick_seconds_bucket[le=0.05]"]
                    - start["shardkit_zone_tick_seconds_bucket[le=0.05]"])
    zone_cpu = end["process_cpu_seconds_total"] - start["process_cpu_seconds_total"]
    rss_growth = end["process_resident_memory_bytes"] - idle["process_resident_memory_bytes"]
    figures: dict[str, object] = {
        "bots": bots, "crowd": args.crowd, "connected": report.get("connected"),
        "errors": report.get("errors"),
        "tick_p50_ms": round(end["shardkit_zone_recent_tick_seconds[0.5]"] * 1000, 2),
        "tick_p99_ms": round(end["shardkit_zone_recent_tick_seconds[0.99]"] * 1000, 2),
        "ticks_in_window": int(ticks), "ticks_over_50ms": int(slow),
        "late_ticks": int(end["shardkit_zone_late_ticks_total"]
                          - start["shardkit_zone_late_ticks_total"]),
        "input_p50_ms": report.get("input_p50_ms"), "input_p99_ms": report.get("input_p99_ms"),
        "snapshots_per_client_s": report.get("snapshots_per_client_s"),
        "snapshots_delivered_ratio": report.get("snapshots_delivered_ratio"),
        "bytes_per_client_s": report.get("bytes_per_client_s"),
        "rss_per_player_kb": round(rss_growth / bots / 1024, 2),
        "zone_cpu_pct": round(100 * zone_cpu / window, 1),
        "zone_cpu_ms_per_tick": round(1000 * zone_cpu / max(ticks, 1), 2),
        "bots_cpu_pct": report.get("bots_cpu_pct"), "bots_procs": args.procs,
        "login_s": report.get("login_s"), "window_s": round(window, 1),
    }
    print(f"{bots:5d} bots{' crowd' if args.crowd else ''}: tick p50 {figures['tick_p50_ms']} ms"
          f" p99 {figures['tick_p99_ms']} ms ({figures['ticks_over_50ms']} of"
          f" {figures['ticks_in_window']} ticks over 50 ms, {figures['late_ticks']} late);"
          f" snapshots {figures['snapshots_per_client_s']}/client/s"
          f" ({figures['snapshots_delivered_ratio']} of {TICK_HZ:g} Hz);"
          f" input-to-visible p50 {figures['input_p50_ms']} p99 {figures['input_p99_ms']} ms;"
          f" {figures['bytes_per_client_s']} B/client/s; {figures['rss_per_player_kb']}"
          f" KiB/player; CPU zone {figures['zone_cpu_pct']}%"
          f" ({figures['zone_cpu_ms_per_tick']} ms a tick), bots {figures['bots_cpu_pct']}%",
          flush=True)
    return figures


def start_shardkit_bots(command: list[str]) -> RunningProcess:
    """``shardkit bots`` as its own process (its CPU is not ours); lines collected as they come."""
    import os
    import subprocess

    process = subprocess.Popen(
        [sys.executable, "-m", "shardkit", "bots", *command], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    running = RunningProcess(process)
    running.start_reader()
    return running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, action="append", help="one size (repeatable)")
    parser.add_argument("--map", type=float, default=2000.0)
    parser.add_argument("--aoi-radius", dest="aoi_radius", type=float, default=100.0)
    parser.add_argument("--speed", type=float, default=5.0)
    parser.add_argument("--crowd", action="store_true",
                        help=f"every bot within {CROWD_RADIUS:g} units of one point")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds measured once every bot is in (default 60: the zone's"
                             " recent tick times cover 60 s)")
    parser.add_argument("--procs", type=int, default=1, help="bot processes (default 1)")
    parser.add_argument("--login-rate", dest="login_rate", type=float, default=200.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary cluster folder")
    args = parser.parse_args()
    runs = run_all(args.bots or [500, 1000, 2000], args)
    largest = max(runs, key=lambda r: int(str(r["bots"])))
    print(json.dumps({**largest, "runs": runs, "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
