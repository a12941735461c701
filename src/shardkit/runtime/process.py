"""Child processes that a component starts and supervises: restart on crash, clean stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping

from shardkit.runtime.main import PARENT_PID_ENV

log = logging.getLogger("shardkit.process")


def shardkit_command(*args: str) -> list[str]:
    """The command line that runs ``shardkit <args>`` with this same interpreter."""
    return [sys.executable, "-m", "shardkit", *args]


def relay_line(name: str, line: str) -> None:
    """Pass a child's output line up to whoever started us, tagged with the child's name."""
    print(f"[{name}] {line}", flush=True)


class Child:
    """One supervised child process; restarted with back-off while ``restart`` is on."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        restart: bool = True,
        on_line: Callable[[str, str], None] | None = None,
        on_exit: Callable[[Child, int], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {}), PARENT_PID_ENV: str(os.getpid())}
        self.cwd = cwd
        self.restart = restart
        self.on_line = on_line
        self.on_exit = on_exit
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.running = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"child {self.name}")

    async def _supervise(self) -> None:
        delay = 0.2
        while not self._stopping:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            self.starts += 1
            self.running.set()
            log.info("started %s (pid %s)", self.name, self.process.pid)
            await self._pump(self.process)
            code = await self.process.wait()
            self.running.clear()
            if self.on_exit is not None:
                self.on_exit(self, code)
            if self._stopping or not self.restart:
                break
            log.warning("%s exited with %s; restarting in %.1f s", self.name, code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _pump(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            line = await process.stdout.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            if self.on_line is not None:
                self.on_line(self.name, text)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(sig)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        self._stopping = True
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                log.error("%s did not stop in %.0f s; killing it", self.name, timeout)
                process.kill()
                await process.wait()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
