"""Text a peer sent, made safe for a log: quoted and cut short, and repeated lines rate-limited.

Anything a peer chose (a name, a reason, an error message, a method name, params) goes into a
log line only through :func:`quote`, and a line that a peer can cause over and over (one per
message it sends) goes through a :class:`PeerLog`, so that no peer can write to a log without
limit, put line breaks or terminal escapes into it, or drown out other lines.
"""

from __future__ import annotations

import logging
import reprlib
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PeerLog", "quote", "quoted_traceback"]

#: Characters of peer text kept by :func:`quote` unless told otherwise.
QUOTE_LIMIT = 120

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxtuple = _repr.maxlist = _repr.maxarray = _repr.maxset = _repr.maxfrozenset = 6
_repr.maxdeque = _repr.maxdict = 6
_repr.maxlong = 40


#: Characters of an exception's own text kept by :func:`quoted_traceback`.
TRACEBACK_TEXT_LIMIT = 400


def quoted_traceback(exc: BaseException, limit: int = TRACEBACK_TEXT_LIMIT) -> str:
    """A traceback for a log whose exception texts are quoted like peer text.

    The frames are ours (file, line, source), but an exception's message may carry what a peer
    sent; logging's own traceback writes it raw (line breaks, escapes). Here each exception of
    the chain ends with ``Type('its text')``, cut to ``limit`` characters.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}{quote(current, limit)}")
        if current.__cause__ is not None:
            current = current.__cause__
            parts.append("The above exception was the direct cause of the following exception:")
        elif current.__context__ is not None and not current.__suppress_context__:
            current = current.__context__
            parts.append("During handling of the above exception, another exception occurred:")
        else:
            current = None
    if parts and not parts[-1].startswith("Traceback"):
        parts.pop()
    return "\n\n".join(reversed(parts))


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``value`` as one bounded, quoted log token: ``repr`` style, at most about ``limit`` chars.

    A string keeps its first ``limit`` characters, in quotes, with control characters, line
    breaks and terminal escapes written as ``\\n``, ``\\x1b``... and says how much was cut.
    Anything else (params, exceptions) is shown by :mod:`reprlib`, which never renders more
    than a few elements of a container, and is cut to ``limit`` characters as well.
    """
    if isinstance(value, str | bytes | bytearray):
        shown = repr(value[:limit])
        if len(value) > limit:
            shown += f"...(+{len(value) - limit})"
        return shown
    if isinstance(value, BaseException):
        return f"{type(value).__name__}({quote(str(value), limit)})"
    _repr.maxstring = _repr.maxother = max(8, limit)
    shown = _repr.repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


@dataclass
class _Window:
    """What one (peer, key) has logged in its current window."""

    started: float
    logged: int = 0
    suppressed: int = 0
    level: int = logging.DEBUG  # the highest level among the suppressed lines


class PeerLog:
    """A logger's lines that peers cause, at most ``burst`` per peer and key every ``window_s``.

    ``log(level, peer, key, msg, *args)`` logs like ``Logger.log`` while the (peer, key) pair
    has logged fewer than ``burst`` lines in its current window, and otherwise only counts the
    line. When the window of a pair that had lines held back is over, one summary line says how
    many (``N similar lines from <peer> suppressed (<key>)``), at the highest level among them.
    All peers together log at most ``max_lines`` lines per window (beyond that, lines are
    counted under the pair's key and summed up the same way).

    Memory is bounded: at most ``max_keys`` pairs are tracked; when full, the pair whose window
    started first is summed up and forgotten. Summaries of finished windows are written on the
    next call (any pair), so a peer that went quiet still gets its summary once anything else
    is logged. ``clock`` is injected for tests (seconds, monotonic).
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = 5,
        window_s: float = 60.0,
        max_lines: int = 200,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1:
            raise ValueError(f"PeerLog: burst must be >= 1, got {burst}")
        if window_s <= 0:
            raise ValueError(f"PeerLog: window_s must be > 0, got {window_s}")
        if max_lines < burst:
            raise ValueError(f"PeerLog: max_lines must be >= burst ({burst}), got {max_lines}")
        if max_keys < 1:
            raise ValueError(f"PeerLog: max_keys must be >= 1, got {max_keys}")
        self.logger = logger
        self.burst = burst
        self.window_s = float(window_s)
        self.max_lines = max_lines
        self.max_keys = max_keys
        self._clock = clock
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()  # oldest first
        self._all_started = clock()
        self._all_logged = 0

    def log(
        self,
        level: int,
        peer: str,
        key: str,
        msg: str,
        *args: object,
        exc_info: bool | BaseException | None = None,
    ) -> bool:
        """Log ``msg % args`` unless this peer and key are over their budget; True if logged."""
        now = self._clock()
        self._close_finished_windows(now)
        if now - self._all_started >= self.window_s:
            self._all_started, self._all_logged = now, 0
        pair = (peer, key)
        window = self._windows.get(pair)
        if window is None:
            if len(self._windows) >= self.max_keys:
                self._summarise(*self._windows.popitem(last=False))
            window = self._windows[pair] = _Window(now)
        if window.logged < self.burst and self._all_logged < self.max_lines:
            window.logged += 1
            self._all_logged += 1
            if self.logger.isEnabledFor(level):
                exc = sys.exc_info()[1] if exc_info is True else exc_info or None
                if isinstance(exc, BaseException):  # its text may be a peer's: quoted
                    msg, args = msg + "\n%s", (*args, quoted_traceback(exc))
                self.logger.log(level, msg, *args)
            return True
        window.suppressed += 1
        window.level = max(window.level, level)
        return False

    def debug(self, peer: str, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.DEBUG, peer, key, msg, *args)

    def info(self, peer: str, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.INFO, peer, key, msg, *args)

    def warning(self, peer: str, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, peer, key, msg, *args)

    def exception(self, peer: str, key: str, msg: str, *args: object) -> bool:
        """Log at ERROR with the current exception's traceback (within the same budget)."""
        return self.log(logging.ERROR, peer, key, msg, *args, exc_info=True)

    def flush(self) -> None:
        """Write the summary of every pair that has lines held back, and forget all pairs."""
        while self._windows:
            self._summarise(*self._windows.popitem(last=False))

    def _close_finished_windows(self, now: float) -> None:
        while self._windows:
            pair, window = next(iter(self._windows.items()))
            if now - window.started < self.window_s:
                return
            del self._windows[pair]
            self._summarise(pair, window)

    def _summarise(self, pair: tuple[str, str], window: _Window) -> None:
        if window.suppressed and self.logger.isEnabledFor(window.level):
            peer, key = pair
            self.logger.log(
                window.level, "%d similar lines from %s suppressed (%s)",
                window.suppressed, peer, key,
            )
