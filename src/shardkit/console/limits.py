"""Console session limits: line length, timeouts, command rate, what input and output may hold."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from shardkit.wire.text import clean_text

__all__ = ["CommandRate", "LimitOptions", "ShellLimits", "clean_input", "shown_output"]

_ANSI_SEQ = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O.|.)?", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class ShellLimits:
    """The bounds of one console session (a timeout of 0 disables that timeout)."""

    max_line_bytes: int = 4096
    idle_timeout: float = 600.0
    login_timeout: float = 60.0
    commands_per_second: float = 10.0
    command_burst: int = 30
    max_output_chars: int = 100_000

    def __post_init__(self) -> None:
        if self.max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be >= 1, got {self.max_line_bytes}")
        if self.idle_timeout < 0 or self.login_timeout < 0:
            raise ValueError(
                f"timeouts must be >= 0 (0 disables), got idle_timeout={self.idle_timeout}, "
                f"login_timeout={self.login_timeout}"
            )
        if not self.commands_per_second > 0:
            raise ValueError(f"commands_per_second must be > 0, got {self.commands_per_second}")
        if self.command_burst < 1:
            raise ValueError(f"command_burst must be >= 1, got {self.command_burst}")
        if self.max_output_chars < 80:
            raise ValueError(f"max_output_chars must be >= 80, got {self.max_output_chars}")


class LimitOptions(TypedDict, total=False):
    """:class:`ShellLimits` fields as keyword arguments (``idle_timeout=5``, ...)."""

    max_line_bytes: int
    idle_timeout: float
    login_timeout: float
    commands_per_second: float
    command_burst: int
    max_output_chars: int


class CommandRate:
    """A token bucket: ``burst`` commands at once, then ``per_second`` on average."""

    def __init__(
        self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not per_second > 0:
            raise ValueError(f"CommandRate: per_second must be > 0, got {per_second}")
        if burst < 1:
            raise ValueError(f"CommandRate: burst must be >= 1, got {burst}")
        self.per_second = float(per_second)
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def allow(self) -> bool:
        """Take one token if there is one: whether the next command may run now."""
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.per_second)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def clean_input(text: str) -> str:
    """An input line without escape sequences and control characters (a tab stays)."""
    return _CONTROL.sub("", _ANSI_SEQ.sub("", text))


def shown_output(text: str, max_chars: int) -> str:
    """A command's reply as it is sent: printable lines ending in a newline, at most
    ``max_chars`` characters of the reply (a cut is said on a line of its own)."""
    cut = len(text) > max_chars
    if cut:
        text = text[:max_chars]
    elif not text:
        return ""
    rows = text.removesuffix("\n").split("\n")
    lines = [clean_text(row, len(row), squeeze=False) for row in rows]
    if cut:
        lines.append(f"... output cut at {max_chars} characters")
    return "\n".join(lines) + "\n"
