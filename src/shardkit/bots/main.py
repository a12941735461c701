"""``shardkit bots``: start the bots, print a progress line every second, end with the report."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from shardkit.bots.options import BotOptions, options_from
from shardkit.bots.runner import PROGRESS_S, Processes, run_bots, run_loop
from shardkit.bots.stats import Figures, report, report_text


def master_port(args: argparse.Namespace) -> int:
    """--port, else the master port of the config under --root, else the default 2002."""
    if args.port:
        return int(args.port)
    from shardkit.config.settings import ConfigError, load_settings

    try:
        return load_settings(Path(args.root).resolve()).server.master.port
    except (ConfigError, OSError):
        return 2002


class Progress:
    """One line a second: bots in, errors, snapshots per second, the bots' CPU."""

    def __init__(self, bots: int) -> None:
        self.bots = bots
        self.started = time.monotonic()
        self.last = (self.started, 0, 0.0)  # (when, snapshots, cpu seconds)

    def line(self, f: Figures) -> str:
        now = time.monotonic()
        when, snapshots, cpu = self.last
        elapsed = max(now - when, 1e-6)
        self.last = (now, f.snapshots_total, f.cpu_total_s)
        entering = self.bots - f.finished_entering
        errors = sum(f.errors.values())
        phase = "measuring" if f.measuring else "entering"
        return (f"[{now - self.started:6.1f} s] {phase}: in zone {f.in_zone}/{self.bots},"
                f" entering {entering}, errors {errors},"
                f" snapshots/s {(f.snapshots_total - snapshots) / elapsed:.0f},"
                f" bots CPU {100 * (f.cpu_total_s - cpu) / elapsed:.0f}%")


def run(args: argparse.Namespace) -> int:
    options = options_from(args, master_port(args))
    print(f"bots: {options.bots} ({options.names()[0]}...) against {options.host}:{options.port},"
          f" world {options.world}, {options.procs} process(es)", flush=True)
    figures = run_here(options) if options.procs == 1 else run_in_processes(options)
    figures.procs = options.procs
    result = report(figures)
    for line in report_text(result):
        print(line, flush=True)
    if options.json:
        print(json.dumps(result), flush=True)
    return 0 if figures.entered else 1


def run_here(options: BotOptions) -> Figures:
    progress = Progress(options.bots)
    result: list[Figures] = []

    def show(f: Figures, final: bool) -> None:
        print(progress.line(f), flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        result.append(await run_bots(options, options.names(), stop, show))

    run_loop(main())
    return result[0]


def run_in_processes(options: BotOptions) -> Figures:
    progress = Progress(options.bots)
    procs = Processes(options)
    procs.start()
    next_line = time.monotonic() + PROGRESS_S
    try:
        while not procs.done():
            procs.poll(max(0.0, next_line - time.monotonic()))
            if time.monotonic() >= next_line:
                next_line += PROGRESS_S
                print(progress.line(procs.merged(final=False)), flush=True)
    except KeyboardInterrupt:
        print("stopping the bots (logging them out)...", file=sys.stderr, flush=True)
        procs.stop()
        deadline = time.monotonic() + 30
        while not procs.done() and time.monotonic() < deadline:
            procs.poll(0.5)
    deadline = time.monotonic() + 10
    while len(procs.final) < len(procs.procs) and time.monotonic() < deadline:
        procs.poll(0.2)  # a child's last figures may still be on their way
    for proc in procs.procs:
        proc.join(5)
    missing = len(procs.procs) - len(procs.final)
    if missing:
        print(f"{missing} bot process(es) ended without a report: their last progress counts",
              file=sys.stderr, flush=True)
    return procs.merged(final=True)
