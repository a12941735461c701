"""A supervised process hears of its supervisor's (or its tree root's) death at once, and stops
within its grace even if its own stop would take longer."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from shardkit.runtime.parent_watch import (
    ORPHAN_EXIT_CODE,
    ORPHAN_GRACE_S,
    ROOT_PID_ENV,
    ParentWatch,
)


async def test_the_watch_fires_as_soon_as_a_watched_process_exits() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    gone: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    watch = ParentWatch([sleeper.pid], None, lambda pid: gone.put_nowait((pid, time.monotonic())))
    try:
        assert gone.empty()
        sleeper.kill()
        killed = time.monotonic()
        pid, at = await asyncio.wait_for(gone.get(), 5)
        assert pid == sleeper.pid
        assert at - killed < 0.5, f"noticed {at - killed:.2f} s after the exit"
    finally:
        watch.close()
        sleeper.kill()
        sleeper.wait()


STUCK = """
    import asyncio, sys
    from shardkit.runtime.main import run_until_signalled

    async def main(stop):
        print("ready", flush=True)  # the watch is on before main runs
        await stop.wait()
        print("stopping", flush=True)
        await asyncio.sleep(60)  # a stop that would wait out some link's timeout

    sys.exit(run_until_signalled(main))
"""


def test_an_orphan_whose_stop_hangs_exits_within_its_grace(tmp_path: Path) -> None:
    script = tmp_path / "stuck.py"
    script.write_text(textwrap.dedent(STUCK))
    root = subprocess.Popen(["sleep", "30"])  # stands in for `shardkit up`
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, ROOT_PID_ENV: str(root.pid)})
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        root.kill()
        root.wait()
        killed = time.monotonic()
        assert child.stdout.readline().strip() == "stopping"  # heard of it: runs its stop
        code = child.wait(timeout=10)
        took = time.monotonic() - killed
        assert code == ORPHAN_EXIT_CODE
        assert took < ORPHAN_GRACE_S + 0.5, f"exited {took:.2f} s after the root died"
    finally:
        root.kill()
        child.kill()
        child.wait()
