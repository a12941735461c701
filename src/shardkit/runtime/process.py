"""Child processes that a component starts and supervises: restart on crash or hang, clean stop.

What a ``Child`` guarantees, whatever the process does:

- Its output is always drained. Output is read in chunks as it comes and cut into bounded,
  printable lines (``runtime.output.LineSplitter``); lines wait for ``on_line`` in a queue of at
  most ``RELAY_QUEUE_CHARS``, and when relaying falls behind, the oldest waiting lines are
  dropped and a ``[N bytes of output dropped ...]`` line marks the gap. So no line length,
  binary output or flood can stop the supervisor or leave the child blocked in ``write()``.
- Its exit is noticed at once (a pidfd on Linux), whatever its own children still hold open:
  what it wrote before it exited is relayed, and a grandchild that still holds the output pipe
  does not delay the restart. The child inherits nothing but stdin, stdout, stderr and its
  heartbeat pipe, so its own children cannot hold our pipes.
- A child that stops answering is killed (SIGKILL) and restarted: its runtime beats on an
  inherited pipe from its event loop every second (``runtime.heartbeat``), and silence for
  ``hang_timeout_s`` (``startup_timeout_s`` before the first beat) is a hang. A child being
  stopped is left to ``stop``'s own deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping

from shardkit.runtime.heartbeat import HeartbeatPipe
from shardkit.runtime.output import LineSplitter, dropped_note, stdout_relay
from shardkit.runtime.parent_watch import supervisor_env

log = logging.getLogger("shardkit.process")

DEFAULT_HANG_TIMEOUT_S = 15.0
"""Heartbeat silence after which a running child counts as hung (``[cluster] hang_timeout_s``)."""

STARTUP_TIMEOUT_S = 60.0
"""How long a starting child may take to its first heartbeat (imports, reading the config)."""

RELAY_QUEUE_CHARS = 1024 * 1024
"""Output waiting for ``on_line`` beyond this is dropped (oldest first) and counted."""

PIPE_BYTES = 1024 * 1024
"""The output pipe's size (Linux): a burst this big never waits for the supervisor."""

READ_CHUNK_BYTES = PIPE_BYTES
EXIT_DRAIN_BYTES = 1024 * 1024
"""Once the child has exited, at most this much left in its pipe is still read and relayed."""

RELAY_SLICE_S = 0.005
"""The relay yields to the event loop after this long, so reading output never waits on it."""


def shardkit_command(*args: str) -> list[str]:
    """The command line that runs ``shardkit <args>`` with this same interpreter."""
    return [sys.executable, "-m", "shardkit", *args]


def relay_line(name: str, line: str) -> None:
    """Pass a child's output line up to whoever started us, tagged with the child's name.

    Never blocks: a supervisor that reads our stdout late gets a dropped-output note instead.
    """
    stdout_relay().write_line(f"[{name}] {line}")


def describe_exit(code: int) -> str:
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


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
        hang_timeout_s: float | None = DEFAULT_HANG_TIMEOUT_S,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        relay_limit_chars: int = RELAY_QUEUE_CHARS,
    ) -> None:
        """``hang_timeout_s=None`` turns the liveness check off (for a program that does not
        run under ``run_until_signalled`` and so never beats)."""
        if hang_timeout_s is not None and hang_timeout_s <= 0:
            raise ValueError("hang_timeout_s must be positive (or None for no liveness check)")
        if startup_timeout_s <= 0:
            raise ValueError("startup_timeout_s must be positive")
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {}), **supervisor_env()}
        self.cwd = cwd
        self.restart = restart
        self.on_line = on_line
        self.on_exit = on_exit
        self.hang_timeout_s = hang_timeout_s
        self.startup_timeout_s = startup_timeout_s
        self.relay_limit_chars = relay_limit_chars
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.exit_reason = ""  # how the last run ended, for people ("exited with code 1", ...)
        self.running = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._exited = asyncio.Event()  # the current run's process has exited
        self._lines: deque[str] = deque()
        self._queued_chars = 0
        self._dropped_bytes = 0
        self._relay_task: asyncio.Task[None] | None = None
        self._relay_failed = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def queued_chars(self) -> int:
        """Output read but not yet relayed (at most ``relay_limit_chars``)."""
        return self._queued_chars

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"child {self.name}")

    # ------------------------------------------------------------ supervision
    async def _supervise(self) -> None:
        delay = 0.2
        while not self._stopping:
            try:
                code = await self._run_once()
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                code = None
                self.exit_reason = f"could not be started: {exc}"
            self.running.clear()
            if code is not None and self.on_exit is not None:
                try:
                    self.on_exit(self, code)
                except Exception:
                    log.exception("on_exit of %s failed", self.name)
            who = self.name if code is None else f"{self.name} (pid {self.pid})"
            if self._stopping:
                log.info("%s %s", who, self.exit_reason)
                break
            if not self.restart:
                log.warning("%s %s", who, self.exit_reason)
                break
            log.warning("%s %s; restarting in %.1f s", who, self.exit_reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), delay)
            delay = min(delay * 2, 5.0)

    async def _run_once(self) -> int:
        """Start the process, relay its output and watch it until it has exited."""
        loop = asyncio.get_running_loop()
        heartbeat = HeartbeatPipe()
        out_read, out_write = os.pipe()
        with contextlib.suppress(AttributeError, OSError):  # Linux only; the default is 64 KiB
            fcntl.fcntl(out_read, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        try:
            process = subprocess.Popen(
                self.argv, env={**self.env, **heartbeat.child_env()}, cwd=self.cwd,
                stdin=subprocess.DEVNULL, stdout=out_write, stderr=out_write,
                close_fds=True, pass_fds=(heartbeat.write_fd,), start_new_session=True,
            )
        except BaseException:
            os.close(out_read)
            heartbeat.close()
            raise
        finally:
            os.close(out_write)
            heartbeat.spawned()
        self.process = process
        self.starts += 1
        self._exited.clear()
        self.running.set()
        log.info("started %s (pid %s)", self.name, process.pid)
        splitter = LineSplitter()
        os.set_blocking(out_read, False)
        loop.add_reader(out_read, self._read_output, out_read, splitter)
        exit_watch = _ExitWatch(process)
        try:
            hang = await self._watch(process, heartbeat, exit_watch)
        finally:
            exit_watch.close()
            loop.remove_reader(out_read)
            # What it wrote before it exited is in the pipe now; anything later comes from a
            # grandchild that still holds the pipe, and must not keep us waiting.
            self._drain(out_read, splitter)
            for line in splitter.close():
                self._queue(line)
            os.close(out_read)
            heartbeat.close()
            if process.returncode is None:  # cancelled while it ran: do not leave it behind
                process.kill()
                process.wait()
            self._exited.set()
        code = process.returncode
        self.exit_reason = hang or describe_exit(code)
        return code

    async def _watch(self, process: subprocess.Popen[bytes], heartbeat: HeartbeatPipe,
                     exit_watch: _ExitWatch) -> str:
        """Wait for the exit; kill the process if its heartbeat goes silent. Returns why it was
        killed ("" if it was not)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        last_beat: float | None = None
        killed_for = ""
        interval = min(1.0, self.hang_timeout_s / 4) if self.hang_timeout_s else 1.0
        if not exit_watch.immediate:
            interval = min(interval, 0.1)
        while not await exit_watch.wait(interval):
            now = loop.time()
            if heartbeat.heard():
                last_beat = now
                continue
            if self.hang_timeout_s is None or self._stopping or killed_for:
                continue
            limit = self.startup_timeout_s if last_beat is None else self.hang_timeout_s
            silent = now - (started if last_beat is None else last_beat)
            if silent > limit:
                killed_for = (f"stopped answering (no heartbeat for {silent:.0f} s) and was killed"
                              if last_beat is not None else
                              f"did not start answering within {silent:.0f} s and was killed")
                log.error("%s (pid %s) %s", self.name, process.pid, killed_for)
                process.kill()
        return killed_for

    # ----------------------------------------------------------------- output
    def _read_output(self, fd: int, splitter: LineSplitter) -> None:
        try:
            data = os.read(fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # end of file: nobody holds the pipe any more; the exit watch decides
            asyncio.get_running_loop().remove_reader(fd)
            return
        for line in splitter.feed(data):
            self._queue(line)

    def _drain(self, fd: int, splitter: LineSplitter) -> None:
        left = EXIT_DRAIN_BYTES
        while left > 0:
            try:
                data = os.read(fd, min(READ_CHUNK_BYTES, left))
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            left -= len(data)
            for line in splitter.feed(data):
                self._queue(line)

    def _queue(self, line: str) -> None:
        if self.on_line is None:
            return
        # over the limit, the oldest lines go: the newest (a traceback, the last word before a
        # crash) matter most, and the relay notes the gap before the next line it passes on
        while self._lines and self._queued_chars + len(line) > self.relay_limit_chars:
            dropped = self._lines.popleft()
            self._queued_chars -= len(dropped)
            self._dropped_bytes += len(dropped) + 1
        self._lines.append(line)
        self._queued_chars += len(line)
        if self._relay_task is None or self._relay_task.done():
            self._relay_task = asyncio.get_running_loop().create_task(
                self._relay(), name=f"relay {self.name}")

    async def _relay(self) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + RELAY_SLICE_S
        while self._lines:
            if self._dropped_bytes:
                self._emit(dropped_note(self._dropped_bytes, "relaying fell behind"))
                self._dropped_bytes = 0
            line = self._lines.popleft()
            self._queued_chars -= len(line)
            self._emit(line)
            if loop.time() >= until:
                await asyncio.sleep(0)
                until = loop.time() + RELAY_SLICE_S

    def _emit(self, line: str) -> None:
        assert self.on_line is not None
        try:
            self.on_line(self.name, line)
        except Exception:
            if not self._relay_failed:  # once: the failure would repeat for every line
                self._relay_failed = True
                log.exception("relaying output of %s failed", self.name)

    # ---------------------------------------------------------------- control
    async def wait(self) -> None:
        """Until supervision has ended: with ``restart`` off, until this run's exit."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(sig)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        self._stopping = True
        self._stop_requested.set()
        process = self.process
        running = self._task is not None and not self._task.done()
        if process is not None and process.returncode is None and running:
            process.terminate()
            try:
                await asyncio.wait_for(self._exited.wait(), timeout)
            except TimeoutError:
                log.error("%s did not stop in %.0f s; killing it", self.name, timeout)
                process.kill()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        if self._relay_task is not None:
            try:
                await asyncio.wait_for(self._relay_task, 2.0)
            except (TimeoutError, asyncio.CancelledError):
                self._relay_task.cancel()


class _ExitWatch:
    """Learns that a process has exited as soon as it has: a pidfd on Linux, polling elsewhere."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._loop = asyncio.get_running_loop()
        self._exited = asyncio.Event()
        self._pidfd = -1
        with contextlib.suppress(AttributeError, OSError):
            self._pidfd = os.pidfd_open(process.pid)
            self._loop.add_reader(self._pidfd, self._check)
        self.immediate = self._pidfd >= 0

    def _check(self) -> None:
        if self.process.poll() is not None:
            self._exited.set()
            self.close()

    async def wait(self, timeout: float) -> bool:
        """True once the process has exited; False after ``timeout`` seconds if it has not."""
        self._check()  # also catches an exit the pidfd was not there for
        if not self._exited.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exited.wait(), timeout)
        return self._exited.is_set()

    def close(self) -> None:
        if self._pidfd >= 0:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
