"""Run a component's async main until SIGINT/SIGTERM, with logging and uvloop when present."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable


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
        return int(await main(stop) or 0)

    try:
        import uvloop

        return uvloop.run(runner())
    except ImportError:
        return asyncio.run(runner())
    except KeyboardInterrupt:
        return 130


def announce(line: str) -> None:
    """A line for whoever started us (``shardkit up`` and tests wait for these)."""
    print(line, flush=True)
