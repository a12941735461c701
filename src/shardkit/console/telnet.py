"""Telnet admin console (MasterServer manhole, WorldDaemon console): the shell over telnet."""

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
#   timeout=0          -> telnetlib3's own idle timer is off; the shell applies idle/login
#                         timeouts per read, so a long-running command is not counted as idle.
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
# ``readline`` (unbounded): lines are assembled by console/telnet_lines.py with a byte limit,
# handling CR LF, CR NUL, bare CR and bare LF.
#
# Everything after the connection is made (banner, login dialogue, prompt/execute loop,
# limits) is the shared shell's (console/shell.py); this module keeps the telnet specifics:
# the address and lockout check before any telnet traffic, the option negotiation, NVT
# output, and the line editor.

from __future__ import annotations

import asyncio
import logging
import re
from typing import Unpack, cast

import telnetlib3
from telnetlib3.stream_reader import TelnetReader
from telnetlib3.stream_writer import TelnetWriter
from telnetlib3.telopt import ECHO, LINEMODE, SGA, WILL

from shardkit.console.access import AccessPolicy
from shardkit.console.commands import CommandSet
from shardkit.console.limits import LimitOptions, ShellLimits
from shardkit.console.server import ConsoleServer
from shardkit.console.shell import ConsoleShell, LoginTries, lockout_text
from shardkit.console.telnet_lines import LineEditor

__all__ = ["TelnetConsole", "start_telnet_console"]

log = logging.getLogger("shardkit.console")

_LONE_CR = re.compile(r"\r(?!\n)")


def _to_wire(text: str) -> bytes:
    """Text to NVT output: newlines become CR LF, a bare CR becomes CR NUL."""
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return _LONE_CR.sub("\r\x00", text).encode("utf-8", errors="replace")


class _TelnetLineIO:
    """The shell's LineIO over one telnet connection."""

    def __init__(self, reader: TelnetReader, writer: TelnetWriter, max_line_bytes: int) -> None:
        self._writer = writer
        self._lines = LineEditor(reader, writer, max_line_bytes)

    async def read_line(self, *, secret: bool = False) -> str | None:
        raw = await self._lines.readline(secret=secret)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    async def write(self, text: str) -> None:
        self._writer.write(_to_wire(text))
        await self._writer.drain()


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
            log.warning("console: telnet connection from %s refused: %s",
                        self.peer_ip, lockout_text(remaining))
            self._refuse(transport, _to_wire(lockout_text(remaining) + "\n"))
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
        self._console._disconnected(self)


class TelnetConsole(ConsoleServer):
    """A listening telnet console; made by :func:`start_telnet_console`."""

    async def _listen(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _ConsoleTelnetProtocol(self), host, port)
        self.listener = server
        self.port = int(server.sockets[0].getsockname()[1])
        log.info("console: telnet console listening on %s:%d", host, self.port)

    def _session_started(self, proto: _ConsoleTelnetProtocol) -> None:
        writer = proto.writer
        assert isinstance(proto.reader, TelnetReader) and isinstance(writer, TelnetWriter)
        self._connected(proto, writer.close)
        self._run(self._session(proto, proto.reader, writer), f"telnet-console {proto.peer_ip}")

    async def _session(
        self, proto: _ConsoleTelnetProtocol, reader: TelnetReader, writer: TelnetWriter
    ) -> None:
        io = _TelnetLineIO(reader, writer, self.shell.limits.max_line_bytes)
        ip = proto.peer_ip
        try:
            await self.shell.serve(io, ip, transport="telnet", login=LoginTries(self.policy, ip))
        finally:
            writer.close()
            self._disconnected(proto)


async def start_telnet_console(
    host: str,
    port: int,
    *,
    policy: AccessPolicy,
    commands: CommandSet,
    banner: str,
    prompt: str = "> ",
    **limits: Unpack[LimitOptions],
) -> TelnetConsole:
    """Start a telnet console on ``host:port`` (port 0 picks a free port: see ``.port``).

    ``limits`` are the fields of :class:`~shardkit.console.shell.ShellLimits` (line length,
    idle and login timeouts, command rate, output bound); what is not given keeps its default.
    """
    shell = ConsoleShell(commands, banner=banner, prompt=prompt, limits=ShellLimits(**limits))
    console = TelnetConsole(shell, policy)
    await console._listen(host, port)
    return console
