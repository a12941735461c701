"""Liveness of supervised processes: a child's event loop beats on a pipe that its supervisor reads.

A supervised process inherits the write end of a pipe, whose number is in ``SHARDKIT_HEARTBEAT_FD``.
``run_until_signalled`` starts ``beat`` on the event loop, which writes one byte every
``HEARTBEAT_INTERVAL_S``, so the beats stop exactly when the loop stops turning: a blocking call,
a deadlock, a ``write()`` to a pipe nobody reads. The supervisor reads them without blocking
(``HeartbeatPipe``); silence longer than its hang timeout means the child no longer answers.
Every component gets this from the runtime without writing any code for it.
"""

from __future__ import annotations

import asyncio
import logging
import os

HEARTBEAT_FD_ENV = "SHARDKIT_HEARTBEAT_FD"
HEARTBEAT_INTERVAL_S = 1.0

log = logging.getLogger("shardkit.runtime")


def start_beating() -> asyncio.Task[None] | None:
    """Beat on the pipe our supervisor gave us, if any (call on the running loop)."""
    value = os.environ.pop(HEARTBEAT_FD_ENV, "")
    if not value.isdigit():
        return None
    fd = int(value)
    try:
        os.set_inheritable(fd, False)  # ours alone: a process we start gets its own pipe
        os.set_blocking(fd, False)  # a supervisor that reads late must never stall our loop
    except OSError:
        return None
    return asyncio.create_task(beat(fd), name="heartbeat")


async def beat(fd: int, interval_s: float = HEARTBEAT_INTERVAL_S) -> None:
    """Write a byte to ``fd`` every ``interval_s`` from the event loop, until cancelled."""
    try:
        while True:
            try:
                os.write(fd, b".")
            except BlockingIOError:
                pass  # the pipe is full of earlier beats: the supervisor will read them
            except OSError:
                return  # the supervisor is gone; the orphan check stops us
            await asyncio.sleep(interval_s)
    finally:
        os.close(fd)


class HeartbeatPipe:
    """The supervisor's end: a pipe whose write end one child inherits, read without blocking."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self.beats = 0

    def child_env(self) -> dict[str, str]:
        return {HEARTBEAT_FD_ENV: str(self.write_fd)}

    def spawned(self) -> None:
        """The child has its copy of the write end: drop ours, so its exit reads as silence."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def heard(self) -> bool:
        """Whether a beat arrived since the last call (reads everything waiting)."""
        heard = False
        while self.read_fd >= 0:
            try:
                data = os.read(self.read_fd, 4096)
            except BlockingIOError:
                break
            if not data:
                break  # end of file: the child (and anything it passed the pipe to) is gone
            self.beats += len(data)
            heard = True
        return heard

    def close(self) -> None:
        self.spawned()
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1
