"""Server-side line editing for the telnet console: echo, editing keys, a byte bound per line.

Used while the client has agreed to WILL ECHO (character-at-a-time): printable input is
echoed, Enter as CR LF, Backspace/DEL erase a character, ^U the line, ^W a word, ^C drops
the line, ^D on an empty line ends the session, and escape sequences (arrow keys and the
like) are swallowed whole. A line ends at CR LF, CR NUL, a bare CR or a bare LF. When the
client echoes itself, the same rules apply without the echo.
"""

from __future__ import annotations

from telnetlib3.stream_reader import TelnetReader
from telnetlib3.stream_writer import TelnetWriter

from shardkit.console.shell import LineTooLong

__all__ = ["LineEditor"]

_READ_CHUNK = 4096
_CR, _LF, _NUL, _BS, _DEL, _ESC = 0x0D, 0x0A, 0x00, 0x08, 0x7F, 0x1B
_CTRL_C, _CTRL_D, _CTRL_U, _CTRL_W, _TAB = 0x03, 0x04, 0x15, 0x17, 0x09


class _EndOfSession(Exception):
    """The client sent ^D on an empty line."""


class LineEditor:
    """Assembles input lines from telnetlib3's byte reader: a length bound, and, while the
    server echoes (the client agreed to WILL ECHO), the echo and the editing keys of a terminal.

    Bytes that arrive after a line end stay unprocessed until the next :meth:`readline`, so a
    password typed ahead is never echoed under the rules of the line before it.
    """

    def __init__(self, reader: TelnetReader, writer: TelnetWriter, max_line_bytes: int) -> None:
        self._reader = reader
        self._writer = writer
        self._max = max_line_bytes
        self._pending = bytearray()  # received, not yet looked at
        self._buf = bytearray()  # the line being typed
        self._after_cr = False
        self._escape = _NO_ESCAPE

    async def readline(self, *, secret: bool = False) -> bytes | None:
        """Next complete line without its terminator; None at end of stream (or ^D)."""
        while True:
            try:
                line = self._take_line(secret=secret)
            except _EndOfSession:
                return None
            if line is not None:
                return line
            chunk = await self._reader.read(_READ_CHUNK)
            if not chunk:
                return None
            self._pending += chunk

    def _take_line(self, *, secret: bool) -> bytes | None:
        """Consume pending bytes up to the end of one line; None if no line is complete yet."""
        echoing = self._writer.will_echo
        show = echoing and not secret
        out = bytearray()
        line: bytes | None = None
        used = 0
        try:
            while line is None and used < len(self._pending):
                used += 1  # consumed even if it raises (an over-long line, ^D)
                line = self._key(self._pending[used - 1], out, show=show)
        finally:
            del self._pending[:used]
            if echoing and out:
                self._writer.write(bytes(out))
        return line

    def _key(self, byte: int, out: bytearray, *, show: bool) -> bytes | None:
        """One input byte; returns the finished line when it ends one."""
        if self._after_cr:
            self._after_cr = False
            if byte in (_LF, _NUL):
                return None
        if self._escape != _NO_ESCAPE:
            if byte >= 0x20:
                self._escape = _next_escape_state(self._escape, byte)
                return None
            self._escape = _NO_ESCAPE  # a control character (Enter, ESC) ends it, and counts
        if byte in (_CR, _LF):
            self._after_cr = byte == _CR
            line = bytes(self._buf)
            self._buf.clear()
            out += b"\r\n"
            return line
        if byte == _ESC:
            self._escape = _AFTER_ESC
        elif byte in (_BS, _DEL):
            self._erase(1, out, show)
        elif byte == _CTRL_U:
            self._erase(len(self._buf), out, show)
        elif byte == _CTRL_W:
            self._erase_word(out, show)
        elif byte == _CTRL_C:
            self._buf.clear()
            out += b"^C\r\n"
            return b""
        elif byte == _CTRL_D:
            if not self._buf:
                raise _EndOfSession
        elif byte >= 0x20 or byte == _TAB:  # printable ASCII and UTF-8; other controls dropped
            byte = 0x20 if byte == _TAB else byte
            self._buf.append(byte)
            if len(self._buf) > self._max:
                raise LineTooLong
            if show:
                out.append(byte)
        return None

    def _erase(self, chars: int, out: bytearray, show: bool) -> None:
        """Drop ``chars`` whole UTF-8 characters from the end of the line."""
        for _ in range(chars):
            if not self._buf:
                return
            while self._buf and self._buf[-1] & 0xC0 == 0x80:  # continuation bytes
                self._buf.pop()
            if self._buf:
                self._buf.pop()
            if show:
                out += b"\b \b"

    def _erase_word(self, out: bytearray, show: bool) -> None:
        text = self._buf.decode("utf-8", errors="replace")
        kept = text.rstrip(" ")
        kept = kept[: len(kept) - len(kept.split(" ")[-1])] if kept else ""
        self._erase(len(text) - len(kept), out, show)


# States of the escape-sequence swallower (arrow keys and the like are not part of a line).
_NO_ESCAPE, _AFTER_ESC, _IN_CSI, _IN_SS3 = 0, 1, 2, 3


def _next_escape_state(state: int, byte: int) -> int:
    """ESC [ params final (CSI), ESC O x (SS3) and ESC x are dropped whole."""
    if state == _AFTER_ESC:
        if byte == 0x5B:  # [
            return _IN_CSI
        return _IN_SS3 if byte == 0x4F else _NO_ESCAPE  # O
    if state == _IN_CSI:
        return _IN_CSI if 0x20 <= byte <= 0x3F else _NO_ESCAPE  # until the final byte
    return _NO_ESCAPE  # the one byte after ESC O
