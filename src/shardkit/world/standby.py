"""A standby WorldServer: imported and waiting until its imp hands it a cluster (SIGUSR1)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import msgspec

from shardkit.config.settings import ConfigError, Settings
from shardkit.imp.schemas import STANDBY_READY, StandbyAssignment
from shardkit.runtime.main import announce
from shardkit.world.server import WorldServer


async def run_standby(settings: Settings, assignment_file: Path, stop: asyncio.Event) -> int:
    """Wait for SIGUSR1 (or a stop), then run the WorldServer the assignment file names.

    It waits under ``run_until_signalled``, so its supervisor hears its heartbeat meanwhile.
    """
    assigned = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, assigned.set)
    announce(STANDBY_READY)
    waiters = [asyncio.ensure_future(assigned.wait()), asyncio.ensure_future(stop.wait())]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    if stop.is_set():
        return 0
    job = msgspec.json.decode(assignment_file.read_bytes(), type=StandbyAssignment)
    assignment_file.unlink(missing_ok=True)
    try:
        server = WorldServer(settings, settings.world(job.world), job.cluster, job.daemon_ip,
                             job.daemon_port)
    except ConfigError as exc:
        announce(f"standby cannot run {job.world}/{job.cluster}: {exc}")
        return 2
    return await server.run(stop)
