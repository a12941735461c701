"""The console shell both admin transports drive: line I/O, login tries, prompt loop, limits.

A transport (telnet, SSH) turns its connection into a :class:`LineIO` (read one line, write
text, read a password without echo) and hands it to :meth:`ConsoleShell.serve`; everything
a console session does from there is here, once: the banner, the login dialogue and its
tries, the prompt/execute loop, ``quit``/``exit``, and the limits of
:class:`~shardkit.console.limits.ShellLimits`. The listening side both transports share
(port, close, wait) is :class:`~shardkit.console.server.ConsoleServer`.

Guarantees, whatever the client sends:

- no input line longer than ``max_line_bytes`` is accepted (the session ends with an error);
- a session that sends no line, or reads no output, for ``idle_timeout`` is ended, and the
  login dialogue as a whole lasts at most ``login_timeout``;
- at most ``command_burst`` commands at once and ``commands_per_second`` after that run; a
  command above the rate is refused with one line, not queued;
- one command's reply is cut at ``max_output_chars`` and shown as printable text only
  (escape sequences and control characters other than newlines are dropped);
- at most :data:`MAX_LOGIN_TRIES` wrong passwords per connection, and the per-IP lockout of
  :class:`~shardkit.console.access.AccessPolicy`, told with :func:`lockout_text`;
- a session holds a fixed amount of state besides its current line.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from shardkit.console.access import AccessPolicy
from shardkit.console.commands import EXIT_COMMANDS, CommandSet
from shardkit.console.limits import CommandRate, ShellLimits, clean_input, shown_output

__all__ = [
    "MAX_LOGIN_TRIES",
    "ConsoleShell",
    "LineIO",
    "LineTooLong",
    "LoginTries",
    "lockout_text",
]

log = logging.getLogger("shardkit.console")

#: Wrong passwords allowed per connection; then the connection is closed (telnet) or password
#: authentication is withdrawn (SSH).
MAX_LOGIN_TRIES = 3


def lockout_text(seconds: float) -> str:
    """What a locked-out client is told (one line, no line end)."""
    return f"too many failed logins; try again in {math.ceil(seconds)} s"


class LineTooLong(Exception):
    """The client sent more than ``max_line_bytes`` without a line end (raised by a LineIO)."""


class LineIO(Protocol):
    """One client connection as the shell sees it; a transport implements it.

    Disconnection shows as ``None`` from :meth:`read_line` or as an ``OSError`` (for example
    ``ConnectionResetError``) from either method; transports translate their own errors.
    """

    async def read_line(self, *, secret: bool = False) -> str | None:
        """The next input line without its line end; None at the end of input.

        ``secret``: the line is a password, so it must not be echoed. Raises
        :class:`LineTooLong` rather than buffer more than the limit it was made with.
        """
        ...

    async def write(self, text: str) -> None:
        """Send ``text`` (lines end in ``\\n``) and wait until the transport has taken it."""
        ...


class LoginTries:
    """The password tries of one connection: checked by the policy, at most ``max_tries`` wrong."""

    def __init__(self, policy: AccessPolicy, ip: str, max_tries: int = MAX_LOGIN_TRIES) -> None:
        if max_tries < 1:
            raise ValueError(f"LoginTries: max_tries must be >= 1, got {max_tries}")
        self.policy = policy
        self.ip = ip
        self.max_tries = max_tries
        self.failures = 0

    @property
    def exhausted(self) -> bool:
        """Whether this connection has used up its tries."""
        return self.failures >= self.max_tries

    def check(self, username: str, password: str) -> bool:
        """One try (the policy logs it and counts it against the IP)."""
        if self.exhausted:
            return False
        ok = self.policy.check_credentials(self.ip, username, password)
        if not ok:
            self.failures += 1
        return ok

    def locked_out_for(self) -> float:
        """Seconds left of this IP's lockout (0.0 when it is not locked out)."""
        return self.policy.locked_out_for(self.ip)


class ConsoleShell:
    """What a console session does, over any :class:`LineIO`: see the module docstring."""

    def __init__(
        self,
        commands: CommandSet,
        *,
        banner: str,
        prompt: str = "> ",
        limits: ShellLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(commands, CommandSet):
            raise TypeError(f"ConsoleShell: commands must be a CommandSet, got {commands!r}")
        if not prompt or "\n" in prompt:
            raise ValueError(f"ConsoleShell: prompt must be one non-empty line, got {prompt!r}")
        self.commands = commands
        self.banner = banner
        self.prompt = prompt
        self.limits = limits or ShellLimits()
        self._clock = clock

    def new_rate(self) -> CommandRate:
        """A command-rate bucket for one connection (shared by its sessions)."""
        return CommandRate(self.limits.commands_per_second, self.limits.command_burst, self._clock)

    async def serve(
        self,
        io: LineIO,
        ip: str,
        *,
        transport: str,
        login: LoginTries | None = None,
        rate: CommandRate | None = None,
    ) -> int:
        """Run one interactive session: banner, login dialogue (when ``login`` is given: the
        transport has not authenticated the client), then commands until quit, end of input,
        idle timeout or a broken limit. Returns an exit status (0 fine, 1 failed); never
        raises for what the client does."""
        session = _Session(self, io, ip, transport, rate or self.new_rate())
        return await session.guarded(session.interactive(login))

    async def run_once(
        self, io: LineIO, ip: str, line: str, *, transport: str, rate: CommandRate | None = None
    ) -> int:
        """Run one command line without a prompt (SSH ``exec``); returns an exit status."""
        session = _Session(self, io, ip, transport, rate or self.new_rate())
        return await session.guarded(session.one_command(line))


class _Session:
    """One client session of a shell."""

    def __init__(
        self, shell: ConsoleShell, io: LineIO, ip: str, transport: str, rate: CommandRate
    ) -> None:
        self.shell = shell
        self.limits = shell.limits
        self.io = io
        self.ip = ip
        self.transport = transport
        self.rate = rate
        self._refusing = False  # commands are being refused by the rate (logged once)

    def _idle_bound(self) -> asyncio.Timeout:
        return asyncio.timeout(self.limits.idle_timeout or None)

    async def write(self, text: str) -> None:
        async with self._idle_bound():  # a client that stops reading is dropped like an idle one
            await self.io.write(text)

    async def write_quietly(self, text: str) -> None:
        try:
            await self.write(text)
        except (OSError, EOFError):  # gone, or not reading (TimeoutError is an OSError)
            pass

    async def read_line(self, *, secret: bool = False) -> str | None:
        async with self._idle_bound():
            line = await self.io.read_line(secret=secret)
        return None if line is None else self.accepted(line)

    def accepted(self, line: str) -> str:
        """An input line as commands see it; a line over the bound ends the session.

        The transport bounds the bytes it buffers; this bounds the characters of any line,
        which a decoded line within the byte bound never exceeds.
        """
        if len(line) > self.limits.max_line_bytes:
            raise LineTooLong
        return clean_input(line)

    async def guarded(self, work: Coroutine[Any, Any, None]) -> int:
        """Run ``work``, turning what a client can cause into a log line and an exit status."""
        try:
            await work
        except LineTooLong:
            log.warning("console: %s client %s sent an over-long line; disconnecting",
                        self.transport, self.ip)
            await self.write_quietly(
                f"\nerror: input line too long (max {self.limits.max_line_bytes} bytes)\n"
            )
            return 1
        except TimeoutError:
            log.info("console: %s client %s stopped reading; disconnecting",
                     self.transport, self.ip)
        except (OSError, EOFError):
            pass  # the client went away
        except Exception:
            log.exception("console: %s session from %s failed", self.transport, self.ip)
            return 1
        return 0

    async def interactive(self, login: LoginTries | None) -> None:
        if self.shell.banner:
            await self.write(self.shell.banner.rstrip("\n") + "\n")
        if login is not None and not await self.login_within_timeout(login):
            return
        log.info("console: %s session from %s started", self.transport, self.ip)
        try:
            await self.command_loop()
        except TimeoutError:
            log.info("console: %s session from %s idle; disconnecting", self.transport, self.ip)
            await self.write_quietly("\nidle timeout; disconnecting\n")
        finally:
            log.info("console: %s session from %s ended", self.transport, self.ip)

    async def login_within_timeout(self, login: LoginTries) -> bool:
        try:
            async with asyncio.timeout(self.limits.login_timeout or None):
                return await self.login(login)
        except TimeoutError:
            log.warning("console: %s login from %s timed out", self.transport, self.ip)
            await self.write_quietly("\nlogin timed out\n")
            return False

    async def login(self, tries: LoginTries) -> bool:
        """The login dialogue; True once the client gave the right name and password."""
        while not tries.exhausted:
            await self.write("login: ")
            username = await self.read_line()
            if username is None:
                return False
            username = username.strip()
            if not username:
                continue
            # Read without echo; a telnet client that refused WILL ECHO echoes it itself,
            # which no server can prevent.
            await self.write("password: ")
            password = await self.read_line(secret=True)
            if password is None:
                return False
            if not password:
                continue  # Enter or ^C on an empty password: back to login, nothing checked
            if tries.check(username, password):
                return True
            remaining = tries.locked_out_for()
            if remaining > 0:
                await self.write(lockout_text(remaining) + "\n")
                return False
            await self.write("login incorrect\n")
        return False

    async def command_loop(self) -> None:
        while True:
            await self.write(self.shell.prompt)
            line = await self.read_line()
            if line is None:
                return
            line = line.strip()
            if not line:
                continue
            if line.split()[0] in EXIT_COMMANDS:
                await self.write_quietly("bye\n")
                return
            await self.run_command(line)

    async def one_command(self, line: str) -> None:
        line = self.accepted(line).strip()
        if line and line.split()[0] not in EXIT_COMMANDS:
            await self.run_command(line)

    async def run_command(self, line: str) -> None:
        """Run one command and send its reply."""
        reply = await self.reply_to(line)
        if reply:
            await self.write(reply)

    async def reply_to(self, line: str) -> str:
        """One command's reply as it is sent (rate-limited, bounded, printable)."""
        if not self.rate.allow():
            if not self._refusing:
                log.warning("console: %s client %s sends commands faster than %g/s; refusing",
                            self.transport, self.ip, self.rate.per_second)
            self._refusing = True
            return (f"error: too many commands (at most {self.rate.per_second:g} a second);"
                    " wait a moment\n")
        self._refusing = False
        output = await self.shell.commands.execute(line)
        return shown_output(output, self.limits.max_output_chars)
