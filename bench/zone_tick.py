"""In-process benchmark of a zone's engine (simulation, area of interest, sync encoding).

No sockets. Bots walk in a random direction that changes every 2-5 seconds. For each size it
prints the tick time p50/p99 (wall clock, and CPU time of the thread, which a busy shared machine
disturbs less; split: simulation / interest / encoding), the bytes each client is sent per
second, and the memory per player, as it goes; the last line is one JSON object.

    python bench/zone_tick.py                      # 500, 1000 and 2000 bots, random on the map
    python bench/zone_tick.py --bots 1000 --crowd  # every bot within 50 units of one point
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

from shardkit.content import Area, PlayerRules, ZoneDef
from shardkit.zone.engine import ZoneEngine
from shardkit.zone.interest import InterestConfig
from shardkit.zone.simulation import Simulation

TICK_HZ = 10.0
CROWD_RADIUS = 50.0


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def run(bots: int, args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed)
    size = float(args.map)
    zone = ZoneDef(width=size, height=size, spawn=(size / 2, size / 2),
                   spawn_area=Area(0.0, 0.0, size, size))
    gc.collect()
    rss0 = rss_bytes()
    sim = Simulation(zone=zone, view_radius=args.aoi_radius, tick_hz=TICK_HZ, rng=rng)
    sim.rules = PlayerRules(speed=args.speed)
    engine = ZoneEngine(sim, InterestConfig(radius=args.aoi_radius))
    cx = cy = size / 2
    ids = []
    for i in range(bots):
        if args.crowd:
            angle, reach = rng.random() * math.tau, CROWD_RADIUS * math.sqrt(rng.random())
            x, y = cx + math.cos(angle) * reach, cy + math.sin(angle) * reach
        else:
            x, y = rng.random() * size, rng.random() * size
        ids.append(engine.join(f"bot{i:05d}", x=x, y=y))
    turn_at = [0] * bots
    totals, cpus, sims, views, encs, sent = [], [], [], [], [], []
    ticks = args.warmup + args.ticks
    for t in range(ticks):
        now = engine.sim.tick
        for i, eid in enumerate(ids):
            if turn_at[i] <= now:
                turn_at[i] = now + rng.randint(int(2 * TICK_HZ), int(5 * TICK_HZ))
                angle = rng.random() * math.tau
                if args.crowd:  # keep the crowd together: head back inside the circle
                    px, py = engine.sim.position(eid)  # type: ignore[misc]
                    if math.hypot(px - cx, py - cy) > CROWD_RADIUS * 0.8:
                        angle = math.atan2(cy - py, cx - px) + (rng.random() - 0.5)
                engine.sim.set_input(eid, math.cos(angle), math.sin(angle))
        started, cpu_started = time.perf_counter(), time.thread_time()
        result = engine.tick()
        total, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        if t >= args.warmup:
            tm = result.timings
            totals.append(total)
            cpus.append(cpu)
            sims.append(tm.simulation)
            views.append(tm.interest)
            encs.append(tm.encoding)
            sent.append(len(result.frame.data))
    rss_per_player = (rss_bytes() - rss0) / bots
    ms = lambda values, q: round(float(np.percentile(values, q)) * 1000, 2)  # noqa: E731
    seconds = len(totals) / TICK_HZ
    figures = {
        "bots": bots, "crowd": args.crowd,
        "tick_p50_ms": ms(totals, 50), "tick_p99_ms": ms(totals, 99),
        "tick_cpu_p50_ms": ms(cpus, 50), "tick_cpu_p99_ms": ms(cpus, 99),
        "sim_p50_ms": ms(sims, 50), "sim_p99_ms": ms(sims, 99),
        "interest_p50_ms": ms(views, 50), "interest_p99_ms": ms(views, 99),
        "encode_p50_ms": ms(encs, 50), "encode_p99_ms": ms(encs, 99),
        "bytes_per_client_s": round(sum(sent) / bots / seconds, 1),
        "rss_per_player_kb": round(rss_per_player / 1024, 2),
    }
    print(f"{bots:5d} bots{' crowd' if args.crowd else ''}: tick p50 {figures['tick_p50_ms']} ms "
          f"p99 {figures['tick_p99_ms']} ms "
          f"(cpu {figures['tick_cpu_p50_ms']}/{figures['tick_cpu_p99_ms']}; "
          f"simulation {figures['sim_p50_ms']}/{figures['sim_p99_ms']}, "
          f"interest {figures['interest_p50_ms']}/{figures['interest_p99_ms']}, "
          f"encoding {figures['encode_p50_ms']}/{figures['encode_p99_ms']} ms p50/p99); "
          f"{figures['bytes_per_client_s']} B/client/s; {figures['rss_per_player_kb']} KiB/player",
          flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, action="append", help="one size (repeatable)")
    parser.add_argument("--map", type=float, default=2000.0)
    parser.add_argument("--aoi-radius", type=float, default=100.0)
    parser.add_argument("--speed", type=float, default=5.0)
    parser.add_argument("--crowd", action="store_true",
                        help=f"every bot within {CROWD_RADIUS:g} units of one point")
    parser.add_argument("--ticks", type=int, default=300, help="measured ticks per size")
    parser.add_argument("--warmup", type=int, default=20, help="ticks not measured (views filling)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = [run(n, args) for n in (args.bots or [500, 1000, 2000])]
    print(json.dumps({"runs": results, "python": sys.version.split()[0], "numpy": np.__version__}))


if __name__ == "__main__":
    main()
