"""Acknowledged character saves per second through daemon -> character server -> database.

1,000 characters save back to back (each waits for its acknowledgement before saving again)
against real GM, master, character server and daemon processes, first on SQLite, then on the
PostgreSQL server in SHARDKIT_TEST_PG. Prints figures as it goes and ends with one JSON line.

    python bench/saves.py [--characters 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import msgspec

from shardkit.characters.schemas import CharacterState
from shardkit.store.testing import PostgresUnavailable, fresh_database_url
from shardkit.testing.character_rig import CharacterRig


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def run_backend(backend: str, characters: int, seconds: float, tmp: Path) -> dict[str, float]:
    url, drop = await fresh_database_url(backend, tmp)
    rig = CharacterRig(tmp / f"rig-{backend}", url)
    try:
        await rig.start()
        print(f"[{backend}] creating {characters} characters...", flush=True)
        states = await rig.create_characters(characters, prefix="Bench")
        latencies: list[float] = []
        refused = 0
        stop_at = time.monotonic() + seconds

        async def saver(state: CharacterState) -> None:
            nonlocal refused
            while time.monotonic() < stop_at:
                attempt = msgspec.structs.replace(
                    state, gold=state.gold + 1, x=(state.x + 0.5) % 1000
                )
                started = time.perf_counter()
                result = await rig.save(attempt)
                latencies.append(time.perf_counter() - started)
                if result.ok:
                    state = msgspec.structs.replace(attempt, version=result.version)
                else:
                    refused += 1

        async def progress() -> None:
            last = 0
            while time.monotonic() < stop_at:
                await asyncio.sleep(1.0)
                now = len(latencies)
                print(f"[{backend}] {now - last} saves acknowledged in the last second", flush=True)
                last = now

        started = time.monotonic()
        reporter = asyncio.create_task(progress())
        await asyncio.gather(*(saver(s) for s in states))
        elapsed = time.monotonic() - started
        reporter.cancel()
        latencies.sort()
        figures = {
            "saves_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "refused": refused,
        }
        print(f"[{backend}] {len(latencies)} saves in {elapsed:.1f} s: {figures}", flush=True)
        return figures
    finally:
        await rig.stop()
        await drop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--characters", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    results: dict[str, object] = {"characters": args.characters}
    with tempfile.TemporaryDirectory(prefix="shardkit-bench-") as tmp:
        sqlite = await run_backend("sqlite", args.characters, args.seconds, Path(tmp))
        results.update({"sqlite_saves_per_s": sqlite["saves_per_s"],
                        "sqlite_p50_ms": sqlite["p50_ms"], "sqlite_p99_ms": sqlite["p99_ms"]})
        try:
            postgres = await run_backend("postgresql", args.characters, args.seconds, Path(tmp))
        except PostgresUnavailable as exc:
            print(f"PostgreSQL unavailable, skipped: {exc}", flush=True)
            postgres = {"saves_per_s": None, "p50_ms": None, "p99_ms": None}
        results.update({"postgres_saves_per_s": postgres["saves_per_s"],
                        "postgres_p50_ms": postgres["p50_ms"],
                        "postgres_p99_ms": postgres["p99_ms"]})
    p99s = [v for v in (results["sqlite_p99_ms"], results["postgres_p99_ms"]) if v is not None]
    results["p99_ms"] = max(p99s) if p99s else None  # type: ignore[type-var]
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
