"""Telnet admin console (MasterServer manhole, WorldDaemon console): login, then commands."""

# Implementation choice: telnetlib3 (5.x), used as the telnet *protocol* only.
#
# Each connection is a subclass of ``telnetlib3.TelnetServer``, so telnetlib3 does all of the
# telnet work: IAC parsing and escaping (IAC IAC), answering or refusing option negotiations,
# sub-negotiation size limits. It is created with
#   encoding=False     -> byte reader/writer; we decode UTF-8 ourselves with errors="replace",
#                         so no byte sequence can raise a decode error,
#   line_mode=True     -> telnetlib3 sends no WILL SGA / WILL ECHO of its own (it would defer
#                         them and skip them for clients it takes for MUD clients): we send
#                         them ourselves, at once, for every client (below),
#   compression=False  -> MCCP refused,
#   timeout=0          -> telnetlib3's own idle timer is off; idle/login timeouts are applied
#                         per read below, so a long-running command is not counted as idle.
#
# Echo and line editing: the server offers WILL ECHO and WILL SGA as soon as a client
# connects. A stock client (Debian's ``telnet``) agrees and goes to character-at-a-time mode:
# it neither echoes nor edits, the server does both (printable input is echoed, Enter as
# CR LF, Backspace/DEL, ^U, ^W and ^C edit the line, escape sequences such as arrow keys are
# swallowed, and the password is not echoed at all). Left to echo locally in NVT line mode, a
# stock client that also agreed to BINARY turns its terminal's output processing off, so
# every echoed Enter moved the cursor down without going back to column 0 and the server's
# next line appeared indented by the length of what was typed. A client that refuses ECHO
# keeps echoing itself, and then the server does not echo. LINEMODE is refused.
#
# What we do not take from telnetlib3: ``telnetlib3.create_server`` (its protocol factory
# cannot be handed our per-console policy, so we call ``loop.create_server`` with a closure),
# its "shell starts after negotiation" hook (that waits up to ``connect_maxwait`` for clients
# that never negotiate; our session starts right away and negotiation runs alongside), its
# SLC snooping (control characters reach our line editor as plain bytes) and its
# ``readline`` (unbounded): lines are assembled here with a byte limit, handling CR LF,
# CR NUL, bare CR and bare LF.

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import cast

import telnetlib3
from telnetlib3.stream_reader import TelnetReader
from telnetlib3.stream_writer import TelnetWriter
from telnetlib3.telopt import ECHO, LINEMODE, SGA, WILL

from shardkit.console.access import AccessPolicy
from shardkit.console.commands import EXIT_COMMANDS, CommandSet

__all__ = ["TelnetConsole", "start_telnet_console"]

log = logging.getLogger("shardkit.console")

#: Wrong passwords allowed per connection before it is closed.
MAX_LOGIN_TRIES = 3

_READ_CHUNK = 4096
_CR, _LF, _NUL, _BS, _DEL, _ESC = 0x0D, 0x0A, 0x00, 0x08, 0x7F, 0x1B
_CTRL_C, _CTRL_D, _CTRL_U, _CTRL_W, _TAB = 0x03, 0x04, 0x15, 0x17, 0x09
_ANSI_SEQ = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O.|.)?", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LONE_CR = re.compile(r"\r(?!\n)")


class _LineTooLong(Exception):
    """The client sent more than max_line_bytes without a line end."""


def _clean(raw: bytes) -> str:
    """Decode one input line and drop escape sequences and control characters."""
    text = raw.decode("utf-8", errors="replace")
    return _CONTROL.sub("", _ANSI_SEQ.sub("", text))


def _to_wire(text: str) -> bytes:
    """Text to NVT output: newlines become CR LF, a bare CR becomes CR NUL."""
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return _LONE_CR.sub("\r\x00", text).encode("utf-8", errors="replace")


class _EndOfSession(Exception):
    """The client sent ^D on an empty line."""


class _LineReader:
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
                raise _LineTooLong
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


class _ConsoleTelnetProtocol(telnetlib3.TelnetServer):
    """telnetlib3 server protocol that checks the peer address before any telnet traffic."""

    def __init__(self, console: TelnetConsole) -> None:
        super().__init__(
            encoding=False,
            line_mode=True,
            compression=False,
            timeout=0,
            never_send_ga=True,
        )
        self._console = console
        self._refused = False
        self.peer_ip = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if peer else ""
        policy = self._console.policy
        if not policy.ip_allowed(self.peer_ip):  # logs the refusal
            self._refuse(transport, b"access denied\r\n")
            return
        remaining = policy.locked_out_for(self.peer_ip)
        if remaining > 0:
            wait_s = math.ceil(remaining)
            log.warning(
                "console: telnet connection from %s refused: locked out for %d more s",
                self.peer_ip,
                wait_s,
            )
            self._refuse(transport, _to_wire(f"too many failed logins; try again in {wait_s} s\n"))
            return
        super().connection_made(transport)
        assert self.writer is not None
        # character-at-a-time with server echo (see the top of this module); no SLC snooping
        self.writer.slc_simulated = False
        self.writer.always_dont.add(LINEMODE)
        self.writer.iac(WILL, SGA)
        self.writer.iac(WILL, ECHO)
        self._console._session_started(self)

    def _refuse(self, transport: asyncio.BaseTransport, message: bytes) -> None:
        self._refused = True
        # telnetlib3's "closed" marker: its connection_lost becomes a no-op for this
        # half-initialised protocol (no reader/writer were made).
        self._closing = True
        # uvloop's TCPTransport is not registered as an asyncio.WriteTransport: cast, not assert
        transport = cast(asyncio.WriteTransport, transport)
        transport.write(message)
        transport.close()  # flushes the message, then closes

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        try:
            super().data_received(data)
        except Exception:
            log.warning(
                "console: telnet protocol error from %s; closing", self.peer_ip, exc_info=True
            )
            if self.writer is not None:
                self.writer.close()

    def eof_received(self) -> None:
        if not self._refused:
            super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        super().connection_lost(exc)
        # telnetlib3 does not chain to FlowControlMixin.connection_lost; without it a drain()
        # blocked on a paused transport would never wake up.
        asyncio.streams.FlowControlMixin.connection_lost(self, exc)
        self._console._protocols.discard(self)


class TelnetConsole:
    """A listening telnet console; made by :func:`start_telnet_console`."""

    def __init__(
        self,
        *,
        policy: AccessPolicy,
        commands: CommandSet,
        banner: str,
        prompt: str,
        idle_timeout: float,
        login_timeout: float,
        max_line_bytes: int,
    ) -> None:
        self.policy = policy
        self.commands = commands
        self.banner = banner
        self.prompt = prompt
        self.idle_timeout = idle_timeout
        self.login_timeout = login_timeout
        self.max_line_bytes = max_line_bytes
        self.port = 0
        self._server: asyncio.Server | None = None
        self._protocols: set[_ConsoleTelnetProtocol] = set()
        self._sessions: set[asyncio.Task[None]] = set()

    async def _listen(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _ConsoleTelnetProtocol(self), host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("console: telnet console listening on %s:%d", host, self.port)

    def close(self) -> None:
        """Stop listening and disconnect every client."""
        if self._server is not None:
            self._server.close()
        for proto in list(self._protocols):
            if proto.writer is not None:
                proto.writer.close()
        self._protocols.clear()

    async def wait_closed(self) -> None:
        """Wait until the listener and all sessions have finished (call :meth:`close` first)."""
        if self._server is not None:
            await self._server.wait_closed()
        current = asyncio.current_task()
        pending = [task for task in self._sessions if task is not current]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- sessions -----------------------------------------------------------------------------

    def _session_started(self, proto: _ConsoleTelnetProtocol) -> None:
        self._protocols.add(proto)
        task = asyncio.get_running_loop().create_task(
            self._run_session(proto), name=f"telnet-console {proto.peer_ip}"
        )
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    async def _run_session(self, proto: _ConsoleTelnetProtocol) -> None:
        ip = proto.peer_ip
        reader, writer = proto.reader, proto.writer
        assert isinstance(reader, TelnetReader) and isinstance(writer, TelnetWriter)
        session = _Session(self, ip, reader, writer)
        try:
            await session.run()
        except _LineTooLong:
            log.warning("console: telnet client %s sent an over-long line; disconnecting", ip)
            await session.send_quietly(
                f"error: input line too long (max {self.max_line_bytes} bytes)\n"
            )
        except TimeoutError:
            log.info("console: telnet client %s stopped reading; disconnecting", ip)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("console: telnet session from %s failed", ip)
        finally:
            writer.close()
            self._protocols.discard(proto)


class _Session:
    """One telnet connection: login, then the command loop."""

    def __init__(
        self, console: TelnetConsole, ip: str, reader: TelnetReader, writer: TelnetWriter
    ) -> None:
        self.console = console
        self.ip = ip
        self.writer = writer
        self.lines = _LineReader(reader, writer, console.max_line_bytes)

    async def send(self, text: str) -> None:
        self.writer.write(_to_wire(text))
        # a client that stops reading is dropped like an idle one
        async with asyncio.timeout(self.console.idle_timeout or None):
            await self.writer.drain()

    async def send_quietly(self, text: str) -> None:
        try:
            await self.send(text)
        except (ConnectionError, TimeoutError):
            pass

    async def read_line(self, *, secret: bool = False) -> str | None:
        async with asyncio.timeout(self.console.idle_timeout or None):
            raw = await self.lines.readline(secret=secret)
        return None if raw is None else _clean(raw)

    async def run(self) -> None:
        console = self.console
        if console.banner:
            await self.send(console.banner.rstrip("\n") + "\n")
        try:
            async with asyncio.timeout(console.login_timeout or None):
                logged_in = await self.login()
        except TimeoutError:
            log.warning("console: telnet login from %s timed out", self.ip)
            await self.send_quietly("\nlogin timed out\n")
            return
        if not logged_in:
            return
        log.info("console: telnet session from %s started", self.ip)
        try:
            await self.command_loop()
        except TimeoutError:
            log.info("console: telnet session from %s idle; disconnecting", self.ip)
            await self.send_quietly("\nidle timeout; disconnecting\n")
        finally:
            log.info("console: telnet session from %s ended", self.ip)

    async def login(self) -> bool:
        policy = self.console.policy
        tries = 0
        while tries < MAX_LOGIN_TRIES:
            await self.send("login: ")
            username = await self.read_line()
            if username is None:
                return False
            username = username.strip()
            if not username:
                continue
            # Not echoed while we echo (the client agreed to WILL ECHO); a client that refused
            # it echoes the password itself, which no server can prevent.
            await self.send("password: ")
            password = await self.read_line(secret=True)
            if password is None:
                return False
            if not password:
                continue  # Enter or ^C on an empty password: back to login, nothing checked
            if policy.check_credentials(self.ip, username, password):
                return True
            tries += 1
            remaining = policy.locked_out_for(self.ip)
            if remaining > 0:
                await self.send(f"too many failed logins; try again in {math.ceil(remaining)} s\n")
                return False
            await self.send("login incorrect\n")
        return False

    async def command_loop(self) -> None:
        console = self.console
        while True:
            await self.send(console.prompt)
            line = await self.read_line()
            if line is None:
                return
            line = line.strip()
            if not line:
                continue
            if line.split()[0] in EXIT_COMMANDS:
                await self.send_quietly("bye\n")
                return
            output = await console.commands.execute(line)
            if output:
                await self.send(output if output.endswith("\n") else output + "\n")


async def start_telnet_console(
    host: str,
    port: int,
    *,
    policy: AccessPolicy,
    commands: CommandSet,
    banner: str,
    prompt: str = "> ",
    idle_timeout: float = 600.0,
    login_timeout: float = 60.0,
    max_line_bytes: int = 4096,
) -> TelnetConsole:
    """Start a telnet console on ``host:port`` (port 0 picks a free port: see ``.port``).

    ``idle_timeout`` drops a client that sends no complete line (or reads no output) for that
    long; ``login_timeout`` bounds the whole login dialogue; a line longer than
    ``max_line_bytes`` gets an error and the connection is closed. 0 disables a timeout.
    """
    if max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be >= 1, got {max_line_bytes}")
    console = TelnetConsole(
        policy=policy,
        commands=commands,
        banner=banner,
        prompt=prompt,
        idle_timeout=idle_timeout,
        login_timeout=login_timeout,
        max_line_bytes=max_line_bytes,
    )
    await console._listen(host, port)
    return console
