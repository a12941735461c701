"""A stock terminal program run inside a private tmux server: type into it and read its screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

WAIT = 10.0  # upper bound for any one thing to appear on the screen


def require_tool(name: str, package: str) -> str:
    """The path of a program the test needs; under CI a missing one fails, elsewhere it skips."""
    path = shutil.which(name)
    if path is not None:
        return path
    reason = f"needs the '{name}' program (Debian package '{package}'; ./scripts/test installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: it must be installed in CI")
    pytest.skip(reason)


class Terminal:
    """One tmux session on its own tmux server (socket), 120x40, running ``argv``.

    The pane stays after the program exits, so its last screen can still be read.
    """

    def __init__(self, argv: list[str], width: int = 120, height: int = 40) -> None:
        self._tmux = require_tool("tmux", "tmux")
        self._folder = Path(tempfile.mkdtemp(prefix="shardkit-tmux-"))
        self.socket = str(self._folder / "socket")
        self._run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  shlex.join(argv))
        self._run("set-option", "-w", "-t", "t", "remain-on-exit", "on")

    def _run(self, *args: str) -> str:
        done = subprocess.run([self._tmux, "-S", self.socket, *args], capture_output=True,
                              text=True, timeout=WAIT, check=False)
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def type(self, text: str) -> None:
        """Type ``text`` literally (no key names); ``--`` keeps a leading ``-`` (a generated
        password may start with one) from being read as a tmux flag."""
        self._run("send-keys", "-t", "t", "-l", "--", text)

    def press(self, *keys: str) -> None:
        """Press named keys: ``Enter``, ``BSpace``, ``C-c`` ..."""
        self._run("send-keys", "-t", "t", *keys)

    def screen(self) -> list[str]:
        """The visible lines, trailing blanks trimmed (leading blanks are kept: they matter)."""
        lines = self._run("capture-pane", "-p", "-t", "t").split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        return [line.rstrip() for line in lines]

    def wait_for(
        self, what: str, test: Callable[[list[str]], bool], timeout: float = WAIT
    ) -> list[str]:
        """Poll the screen until ``test(lines)`` holds; fail showing the screen at ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            if test(lines):
                return lines
            if time.monotonic() > deadline:
                shown = "\n".join(f"|{line}" for line in lines)
                raise AssertionError(f"the terminal never showed {what}; it shows:\n{shown}")
            time.sleep(0.05)

    def wait_for_line(self, text: str, count: int = 1, timeout: float = WAIT) -> list[str]:
        """Wait until ``count`` lines contain ``text``."""
        return self.wait_for(f"{count} line(s) with {text!r}",
                             lambda lines: sum(text in line for line in lines) >= count, timeout)

    def exited(self) -> bool:
        """Whether the program in the pane has ended (tmux may not have reaped it yet)."""
        pid = self._run("display-message", "-p", "-t", "t", "#{pane_pid}").strip()
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state in ("Z", "X")

    def close(self) -> None:
        subprocess.run([self._tmux, "-S", self.socket, "kill-server"], capture_output=True,
                       timeout=WAIT, check=False)
        shutil.rmtree(self._folder, ignore_errors=True)
