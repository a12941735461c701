"""A child's raw output made safe to relay: bounded printable lines, and a stdout that never blocks.

Guarantees:

- ``LineSplitter`` turns any bytes (binary, invalid UTF-8, one line of any length) into lines
  of bounded length: a line longer than ``MAX_LINE_CHARS`` + ``LINE_SLACK_CHARS`` bytes is cut
  to ``MAX_LINE_CHARS`` and ends with a note of its full length. It holds at most that much of
  an unfinished line, whatever the child writes. Control characters and terminal escapes become
  visible ``\\xNN`` text, so a relayed line can neither fake another line nor drive a terminal.
- ``StdoutRelay`` writes lines to this process's stdout from its own thread, so a slow reader of
  our stdout never stalls the event loop; what does not fit in its bounded buffer is dropped
  and counted, and a ``[N bytes of output dropped ...]`` line says so where the gap is.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections import deque

MAX_LINE_CHARS = 8192
"""A longer line is cut to this many characters, followed by a note of its full length."""

LINE_SLACK_CHARS = 1024
"""A line at most this much over the limit passes whole: the name prefix and note each relay
level adds must not make the next level cut (and annotate) the same line again."""

STDOUT_BUFFER_BYTES = 1024 * 1024
"""Relayed output waiting for our stdout beyond this is dropped, not buffered."""

_CONTROL = [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0)]
_VISIBLE = str.maketrans({code: f"\\x{code:02x}" for code in _CONTROL})


def printable(text: str) -> str:
    """``text`` with control characters (all but tab) shown as ``\\xNN``."""
    return text.translate(_VISIBLE)


def dropped_note(count: int, why: str) -> str:
    return f"[{count} bytes of output dropped: {why}]"


class LineSplitter:
    """Cuts a byte stream into printable lines, keeping at most one bounded partial line."""

    def __init__(self, max_chars: int = MAX_LINE_CHARS,
                 slack_chars: int = LINE_SLACK_CHARS) -> None:
        self.max_chars = max_chars
        self._keep = max_chars + slack_chars  # bytes of one line held before the rest is counted
        self._partial = bytearray()
        self._overflow = 0  # bytes of the current line beyond what is held

    def feed(self, data: bytes) -> list[str]:
        """The lines that ``data`` completes (an unfinished last line waits for more)."""
        lines: list[str] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            self._hold(data[start:] if end < 0 else data[start:end])
            if end < 0:
                return lines
            lines.append(self._finish())
            start = end + 1

    def close(self) -> list[str]:
        """The last line if the stream ended without a newline."""
        return [self._finish()] if self._partial or self._overflow else []

    def _hold(self, piece: bytes) -> None:
        room = self._keep - len(self._partial)
        if room > 0:
            self._partial += piece[:room]
        self._overflow += max(0, len(piece) - max(room, 0))

    def _finish(self) -> str:
        held, overflow = bytes(self._partial), self._overflow
        self._partial.clear()
        self._overflow = 0
        total = len(held) + overflow
        text = printable(held.decode(errors="replace").rstrip())
        if total > self._keep or len(text) > self._keep:  # (escapes make text longer)
            return f"{text[: self.max_chars]} [... line cut: {total} bytes in all]"
        return text


class StdoutRelay:
    """Lines for our stdout, written by a thread from a bounded buffer; the caller never waits."""

    def __init__(self, fd: int | None = None, limit_bytes: int = STDOUT_BUFFER_BYTES) -> None:
        self.fd = sys.stdout.fileno() if fd is None else fd
        self.limit_bytes = limit_bytes
        self.dropped_bytes = 0
        self._pending: deque[bytes] = deque()
        self._pending_bytes = 0
        self._cond = threading.Condition()
        self._writing = False
        self._broken = False
        self._thread: threading.Thread | None = None

    def write_line(self, text: str, *, essential: bool = False) -> None:
        """Queue ``text`` and a newline; dropped if the buffer is full, unless ``essential``
        (our own few status lines: the cluster summary, which tests and people wait for)."""
        data = (text + "\n").encode(errors="replace")
        with self._cond:
            if self._broken:
                return
            if not essential and self._pending_bytes + len(data) > self.limit_bytes:
                self.dropped_bytes += len(data)
                return
            self._note_dropped()
            self._pending.append(data)
            self._pending_bytes += len(data)
            self._cond.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="stdout relay", daemon=True)
                self._thread.start()
                atexit.register(self.flush, 2.0)

    def _note_dropped(self) -> None:
        if self.dropped_bytes:
            note = dropped_note(self.dropped_bytes, "our stdout was not read fast enough")
            self._pending.append((note + "\n").encode())
            self.dropped_bytes = 0

    @property
    def started(self) -> bool:
        return self._thread is not None

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until everything queued is written; True if it was."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._broken or not (self._pending or self._writing or self.dropped_bytes),
                timeout,
            )

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending or self.dropped_bytes))
                self._note_dropped()  # what was dropped came after what is pending
                batch = b"".join(self._pending)
                self._pending.clear()
                self._pending_bytes = 0
                self._writing = True
            try:
                view = memoryview(batch)
                while view:
                    view = view[os.write(self.fd, view):]
            except OSError:  # nobody reads our stdout any more (our supervisor is gone)
                with self._cond:
                    self._broken = True
                    self._pending.clear()
                    self._writing = False
                    self._cond.notify_all()
                return
            with self._cond:
                self._writing = False
                self._cond.notify_all()


_stdout: StdoutRelay | None = None


def stdout_relay() -> StdoutRelay:
    """This process's one ``StdoutRelay``."""
    global _stdout
    if _stdout is None:
        _stdout = StdoutRelay()
    return _stdout


def write_stdout_line(text: str) -> None:
    """One of our own lines for stdout, in order with relayed lines (through the relay once it
    has been used; never dropped)."""
    if _stdout is not None and _stdout.started:
        _stdout.write_line(text, essential=True)
    else:
        print(text, flush=True)
