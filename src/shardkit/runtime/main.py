"""Run a component's async main until SIGINT/SIGTERM, with logging and uvloop when present."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from shardkit.runtime.collector import freeze_long_lived, freeze_when_ready
from shardkit.runtime.heartbeat import start_beating
from shardkit.runtime.output import write_stdout_line
from shardkit.runtime.parent_watch import stop_when_orphaned

log = logging.getLogger("shardkit.runtime")


def setup_logging(level: str = "INFO", component: str = "shardkit") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {component} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[int | None]]) -> int:
    """Run ``main(stop)``; ``stop`` is set on SIGINT or SIGTERM. Returns main's exit code."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watch = stop_when_orphaned(stop)  # a supervisor's death stops us at once
        heartbeat = start_beating()  # tells our supervisor that this event loop still turns
        freeze_long_lived()  # the modules are imported: no collection rescans them
        try:
            return int(await main(stop) or 0)
        finally:
            if watch is not None:
                watch.close()
            if heartbeat is not None:
                heartbeat.cancel()

    try:
        import uvloop

        return uvloop.run(runner())
    except ImportError:
        return asyncio.run(runner())
    except KeyboardInterrupt:
        return 130


def announce(line: str) -> None:
    """A line for whoever started us (``shardkit up`` and tests wait for these); it comes after
    every line we relayed before it, so "ready" never overtakes what it depends on.

    The first one also means the component has started: what it built is left out of garbage
    collections from then on (``runtime/collector.py``)."""
    freeze_when_ready()
    write_stdout_line(line)
