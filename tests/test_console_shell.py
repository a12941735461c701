"""The console shell in-process over an in-memory line transport: login, lockout, limits, errors."""

from __future__ import annotations

import asyncio
import logging
from typing import Unpack

import pytest

from shardkit.console.access import AccessPolicy
from shardkit.console.commands import CommandSet, UsageError
from shardkit.console.limits import CommandRate, LimitOptions, ShellLimits, shown_output
from shardkit.console.shell import MAX_LOGIN_TRIES, ConsoleShell, LineTooLong, LoginTries

pytestmark = pytest.mark.timeout(10)

USER, PASSWORD, IP = "admin", "s3cret-pässword", "127.0.0.1"
WAIT = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryLineIO:
    """A LineIO in memory: lines to answer with (None is the end of input), all text written."""

    def __init__(self, *lines: str | None, hang: bool = False) -> None:
        self.lines = list(lines)
        self.hang = hang  # once the lines run out, wait for more instead of ending the input
        self.written: list[str] = []
        self.secret_reads: list[bool] = []
        self.starved = asyncio.Event()  # set while a read waits for a line
        self._fed = asyncio.Event()

    def feed(self, *lines: str) -> None:
        self.lines.extend(lines)
        self.starved.clear()
        self._fed.set()

    async def read_line(self, *, secret: bool = False) -> str | None:
        self.secret_reads.append(secret)
        while not self.lines:
            if not self.hang:
                return None
            self._fed = asyncio.Event()
            self.starved.set()
            await self._fed.wait()
        line = self.lines.pop(0)
        if line == "<too long>":
            raise LineTooLong
        return line

    async def write(self, text: str) -> None:
        self.written.append(text)

    @property
    def text(self) -> str:
        return "".join(self.written)


class GoneLineIO(MemoryLineIO):
    async def write(self, text: str) -> None:
        raise ConnectionResetError("peer went away")


def make_commands() -> CommandSet:
    commands = CommandSet()

    @commands.command("echo", "print the arguments")
    async def echo(args: list[str]) -> str:
        return " ".join(args)

    @commands.command("boom", "always fails")
    async def boom(args: list[str]) -> str:
        raise RuntimeError("kaboom")

    @commands.command("count", "count [n]")
    async def count(args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError("usage: count <n>")
        return "\n".join(f"line {i}" for i in range(int(args[0])))

    @commands.command("paint", "colourful output")
    async def paint(args: list[str]) -> str:
        return "\x1b[2J\x1b]0;title\x07red\x00 \x1b[31mtext\x1b[0m\nsecond\tline\n"

    return commands


def make_shell(clock: FakeClock | None = None, **limits: Unpack[LimitOptions]) -> ConsoleShell:
    return ConsoleShell(make_commands(), banner="test console", limits=ShellLimits(**limits),
                        clock=clock or FakeClock())


def make_policy(
    clock: FakeClock | None = None, max_failures: int = 5, lockout_s: float = 30.0
) -> AccessPolicy:
    return AccessPolicy(USER, PASSWORD, ["127.0.0.0/8"], max_failures=max_failures,
                        lockout_s=lockout_s, clock=clock or FakeClock())


async def serve(shell: ConsoleShell, io: MemoryLineIO, policy: AccessPolicy | None = None) -> int:
    login = LoginTries(policy, IP) if policy is not None else None
    return await asyncio.wait_for(shell.serve(io, IP, transport="test", login=login), WAIT)


# -- login -------------------------------------------------------------------------------------


async def test_login_then_commands_then_quit() -> None:
    io = MemoryLineIO(USER, PASSWORD, "echo 'a b'  c", "", "quit", "echo never")
    assert await serve(make_shell(), io, make_policy()) == 0
    assert io.written == [
        "test console\n", "login: ", "password: ", "> ", "a b c\n", "> ", "> ", "bye\n",
    ]
    assert io.secret_reads[:2] == [False, True]  # only the password is read without echo
    assert io.lines == ["echo never"]


async def test_wrong_passwords_end_the_connection_after_max_tries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="shardkit.console")
    tries = [USER, "wrong"] * MAX_LOGIN_TRIES + [USER, PASSWORD]
    io = MemoryLineIO(*tries)
    policy = make_policy(max_failures=100)
    assert await serve(make_shell(), io, policy) == 0
    assert io.text.count("login incorrect\n") == MAX_LOGIN_TRIES
    assert "> " not in io.written
    assert io.lines == [USER, PASSWORD]  # the right password was never asked for
    assert all("wrong" not in r.getMessage() for r in caplog.records)


async def test_empty_name_or_password_asks_again_without_counting() -> None:
    io = MemoryLineIO("", "  ", USER, "", USER, PASSWORD, "quit")
    policy = make_policy(max_failures=1)
    assert await serve(make_shell(), io, policy) == 0
    assert io.written.count("login: ") == 4 and io.text.endswith("> bye\n")
    assert policy.locked_out_for(IP) == 0.0


async def test_lockout_is_said_once_and_ends_the_session() -> None:
    clock = FakeClock()
    policy = make_policy(clock, max_failures=2, lockout_s=30.0)
    io = MemoryLineIO(USER, "bad1", USER, "bad2", USER, PASSWORD)
    assert await serve(make_shell(clock), io, policy) == 0
    assert io.written[-2:] == ["password: ", "too many failed logins; try again in 30 s\n"]
    assert io.text.count("login incorrect") == 1
    assert policy.locked_out_for(IP) == pytest.approx(30.0)

    again = MemoryLineIO(USER, PASSWORD)  # the right password is refused while locked out
    assert await serve(make_shell(clock), again, policy) == 0
    assert again.written[-1] == "too many failed logins; try again in 30 s\n"
    clock.now += 30
    later = MemoryLineIO(USER, PASSWORD, "quit")
    assert await serve(make_shell(clock), later, policy) == 0
    assert later.written[-1] == "bye\n"


async def test_login_tries_are_per_connection_and_bounded() -> None:
    tries = LoginTries(make_policy(max_failures=100), IP)
    for _ in range(MAX_LOGIN_TRIES):
        assert not tries.check(USER, "bad")
    assert tries.exhausted
    assert not tries.check(USER, PASSWORD)  # no further try is even checked
    assert tries.failures == MAX_LOGIN_TRIES
    with pytest.raises(ValueError, match="max_tries"):
        LoginTries(make_policy(), IP, max_tries=0)


async def test_login_timeout_and_idle_timeout() -> None:
    io = MemoryLineIO(USER, hang=True)
    assert await serve(make_shell(login_timeout=0.05), io, make_policy()) == 0
    assert io.written[-1] == "\nlogin timed out\n"

    io = MemoryLineIO("echo hi", hang=True)
    assert await serve(make_shell(idle_timeout=0.05), io) == 0
    assert io.written[-3:] == ["hi\n", "> ", "\nidle timeout; disconnecting\n"]


# -- limits and errors -------------------------------------------------------------------------


async def test_overlong_line_ends_the_session_with_an_error() -> None:
    io = MemoryLineIO("echo " + "x" * 100, "echo after")
    assert await serve(make_shell(max_line_bytes=64), io) == 1
    assert io.written[-1] == "\nerror: input line too long (max 64 bytes)\n"
    assert io.lines == ["echo after"]

    io = MemoryLineIO("<too long>")  # as a transport raises it, before buffering more
    assert await serve(make_shell(), io, make_policy()) == 1
    assert "input line too long" in io.written[-1]


async def test_command_errors_keep_the_session() -> None:
    io = MemoryLineIO("nope", "boom", "count", "echo 'open", "echo still here", None)
    assert await serve(make_shell(), io) == 0
    assert io.written[1:] == [
        "> ", "unknown command 'nope'; type 'help'\n",
        "> ", "error: kaboom\n",
        "> ", "usage: count <n>\n",
        "> ", "error: cannot parse line: No closing quotation\n",
        "> ", "still here\n",
        "> ",
    ]


async def test_command_rate_refuses_above_the_burst(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="shardkit.console")
    clock = FakeClock()
    io = MemoryLineIO(*[f"echo {n}" for n in range(5)], hang=True)
    shell = make_shell(clock, commands_per_second=2.0, command_burst=3)
    session = asyncio.create_task(shell.serve(io, IP, transport="test"))
    await asyncio.wait_for(io.starved.wait(), WAIT)
    replies = [text for text in io.written if text.startswith(("error", "echo")) or
               text[:1].isdigit()]
    assert replies[:3] == ["0\n", "1\n", "2\n"]
    assert replies[3:] == ["error: too many commands (at most 2 a second); wait a moment\n"] * 2
    assert len([r for r in caplog.records if "faster than" in r.getMessage()]) == 1

    clock.now += 0.5  # one command's worth of time has passed
    io.feed("echo 5", "echo 6")
    await asyncio.wait_for(io.starved.wait(), WAIT)
    session.cancel()
    assert io.written[-4:] == [
        "5\n", "> ", "error: too many commands (at most 2 a second); wait a moment\n", "> "]


async def test_output_is_bounded_and_printable() -> None:
    io = MemoryLineIO("count 100", "paint", None)
    assert await serve(make_shell(max_output_chars=100), io) == 0
    cut = io.written[2]
    assert cut.endswith("\n... output cut at 100 characters\n")
    assert len(cut) < 100 + 60 and cut.startswith("line 0\nline 1\n")
    assert io.written[4] == "red text\nsecond line\n"


def test_shown_output_edges() -> None:
    assert shown_output("", 100) == ""
    assert shown_output("a\n\nb\n", 100) == "a\n\nb\n"
    assert shown_output("x" * 200, 100) == "x" * 100 + "\n... output cut at 100 characters\n"


async def test_input_is_cleaned_of_escapes_and_controls() -> None:
    io = MemoryLineIO("echo \x1b[31mred\x1b[0m\x07 tab\tkept", None)
    assert await serve(make_shell(), io) == 0
    assert io.written[2] == "red tab kept\n"


async def test_a_client_that_goes_away_ends_quietly() -> None:
    io = GoneLineIO("echo hi")
    assert await serve(make_shell(), io, make_policy()) == 0


async def test_run_once_for_exec() -> None:
    shell = make_shell()
    io = MemoryLineIO()
    assert await shell.run_once(io, IP, "echo 'x y'", transport="test") == 0
    assert await shell.run_once(io, IP, "quit", transport="test") == 0
    assert await shell.run_once(io, IP, "   ", transport="test") == 0
    assert io.written == ["x y\n"]
    assert await shell.run_once(io, IP, "echo " + "z" * 5000, transport="test") == 1
    assert "input line too long" in io.written[-1]


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("max_line_bytes", 0), ("idle_timeout", -1.0), ("login_timeout", -0.5),
    ("commands_per_second", 0.0), ("command_burst", 0), ("max_output_chars", 10),
])
def test_limits_validated_in_the_constructor(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ShellLimits(**{field: value})  # type: ignore[arg-type]


def test_shell_and_rate_validated_in_the_constructor() -> None:
    with pytest.raises(TypeError, match="CommandSet"):
        ConsoleShell({}, banner="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prompt"):
        ConsoleShell(CommandSet(), banner="x", prompt="two\nlines")
    with pytest.raises(ValueError, match="per_second"):
        CommandRate(0.0, 1)
    with pytest.raises(ValueError, match="burst"):
        CommandRate(1.0, 0)


def test_command_rate_refills_up_to_the_burst() -> None:
    clock = FakeClock()
    rate = CommandRate(10.0, 2, clock)
    assert [rate.allow() for _ in range(3)] == [True, True, False]
    clock.now += 0.1
    assert [rate.allow(), rate.allow()] == [True, False]
    clock.now += 3600  # a long quiet spell refills only up to the burst
    assert [rate.allow() for _ in range(3)] == [True, True, False]
    clock.now -= 10  # a clock that goes back gives nothing
    assert not rate.allow()
