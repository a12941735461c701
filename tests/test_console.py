"""Tests for shardkit.console: access policy, commands, telnet and SSH consoles on real sockets."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from shardkit.console.access import MAX_LOCKOUT_S, AccessPolicy
from shardkit.console.commands import CommandSet
from shardkit.console.ssh import SshConsole, start_ssh_console
from shardkit.console.telnet import TelnetConsole, start_telnet_console

pytestmark = pytest.mark.timeout(20)

USER = "admin"
PASSWORD = "s3cret-pässword"
WAIT = 5.0  # upper bound for any single network event in these tests

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA = 1, 3


# -- helpers -----------------------------------------------------------------------------------


class FakeClock:
    """A manually advanced clock for AccessPolicy."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_commands() -> CommandSet:
    commands = CommandSet()

    @commands.command("echo", "print the arguments")
    async def echo(args: list[str]) -> str:
        return " ".join(args)

    @commands.command("boom", "always fails")
    async def boom(args: list[str]) -> str:
        raise RuntimeError("kaboom")

    return commands


def make_policy(allowed: list[str] | None = None, **kwargs: Any) -> AccessPolicy:
    return AccessPolicy(USER, PASSWORD, allowed or ["127.0.0.0/8", "::1"], **kwargs)


class TelnetClient:
    """Minimal raw telnet client: strips IAC sequences from what it reads and records them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.raw = bytearray()  # unparsed bytes (may end inside an IAC sequence)
        self.text = bytearray()  # in-band bytes not consumed yet
        self.events: list[tuple[str, int | bytes]] = []  # ("WILL", opt) ... and ("data", bytes)
        self.eof = False

    @classmethod
    async def connect(cls, port: int, source_ip: str = "127.0.0.1") -> TelnetClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source_ip, 0)), WAIT
        )
        return cls(reader, writer)

    def _parse(self) -> None:
        raw = self.raw
        i = 0
        names = {WILL: "WILL", WONT: "WONT", DO: "DO", DONT: "DONT"}
        while i < len(raw):
            byte = raw[i]
            if byte != IAC:
                j = raw.find(bytes([IAC]), i)
                j = len(raw) if j == -1 else j
                self.text += raw[i:j]
                self.events.append(("data", bytes(raw[i:j])))
                i = j
                continue
            if i + 1 >= len(raw):
                break
            cmd = raw[i + 1]
            if cmd == IAC:
                self.text.append(IAC)
                i += 2
            elif cmd in names:
                if i + 2 >= len(raw):
                    break
                self.events.append((names[cmd], raw[i + 2]))
                i += 3
            elif cmd == SB:
                end = raw.find(bytes([IAC, SE]), i + 2)
                if end == -1:
                    break
                i = end + 2
            else:
                i += 2
        del raw[:i]

    async def _fill(self) -> None:
        data = await self.reader.read(4096)
        if not data:
            self.eof = True
            return
        self.raw += data
        self._parse()

    async def read_until(self, token: str, timeout: float = WAIT) -> str:
        """Text up to and including ``token`` (fails on EOF or timeout)."""
        needle = token.encode()

        async def wait() -> str:
            while needle not in self.text:
                if self.eof:
                    got = self.text.decode(errors="replace")
                    raise AssertionError(f"EOF before {token!r}; got {got!r}")
                await self._fill()
            end = self.text.index(needle) + len(needle)
            out = bytes(self.text[:end])
            del self.text[:end]
            return out.decode("utf-8", errors="replace")

        return await asyncio.wait_for(wait(), timeout)

    async def read_to_eof(self, timeout: float = WAIT) -> str:
        """All remaining text until the server closes the connection."""

        async def wait() -> str:
            while not self.eof:
                await self._fill()
            out = bytes(self.text)
            self.text.clear()
            return out.decode("utf-8", errors="replace")

        return await asyncio.wait_for(wait(), timeout)

    def send(self, data: str | bytes) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)

    async def login(self, username: str = USER, password: str = PASSWORD) -> str:
        """Answer the login dialogue; returns the text after the password (ends at the prompt)."""
        await self.read_until("login: ")
        self.send(f"{username}\r\n")
        await self.read_until("password: ")
        self.send(f"{password}\r\n")
        return await self.read_until("> ")

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), WAIT)
        except (ConnectionError, OSError):
            pass


@asynccontextmanager
async def telnet_console(
    policy: AccessPolicy | None = None, host: str = "127.0.0.1", **kwargs: Any
) -> AsyncIterator[TelnetConsole]:
    console = await start_telnet_console(
        host,
        0,
        policy=policy or make_policy(),
        commands=make_commands(),
        banner="shardkit test manhole",
        **kwargs,
    )
    try:
        yield console
    finally:
        console.close()
        await asyncio.wait_for(console.wait_closed(), WAIT)


@asynccontextmanager
async def ssh_console(
    host_key_path: Path, policy: AccessPolicy | None = None
) -> AsyncIterator[SshConsole]:
    console = await start_ssh_console(
        "127.0.0.1",
        0,
        policy=policy or make_policy(),
        commands=make_commands(),
        host_key_path=host_key_path,
        banner="shardkit test world console",
    )
    try:
        yield console
    finally:
        console.close()
        await asyncio.wait_for(console.wait_closed(), WAIT)


def ssh_connect(
    port: int, password: str = PASSWORD, source_ip: str = "127.0.0.1"
) -> Any:
    """asyncssh client connection (an async context manager) using password auth only."""
    return asyncssh.connect(
        "127.0.0.1",
        port,
        local_addr=(source_ip, 0),
        username=USER,
        password=password,
        known_hosts=None,
        client_keys=None,
        agent_path=None,
        config=None,
        preferred_auth="password",
        connect_timeout=WAIT,
    )


def install_error_collector(errors: list[dict[str, object]]) -> None:
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))


# -- AccessPolicy ------------------------------------------------------------------------------


def test_policy_ip_allowed_cidr_and_plain_addresses() -> None:
    policy = AccessPolicy(USER, PASSWORD, ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1"])
    assert policy.ip_allowed("10.1.2.3")
    assert policy.ip_allowed("192.168.1.7")
    assert not policy.ip_allowed("192.168.1.8")
    assert not policy.ip_allowed("11.0.0.1")
    assert policy.ip_allowed("2001:db8::42")
    assert policy.ip_allowed("::1")
    assert not policy.ip_allowed("2001:db9::1")
    assert policy.ip_allowed("::ffff:10.9.8.7")  # IPv4-mapped IPv6 matches the IPv4 network
    assert not policy.ip_allowed("::ffff:11.0.0.1")
    assert not policy.ip_allowed("not-an-ip")
    mapped = AccessPolicy(USER, PASSWORD, ["::ffff:10.0.0.0/104"])
    assert mapped.ip_allowed("::ffff:10.1.2.3")
    assert not mapped.ip_allowed("10.1.2.3")
    assert not policy.ip_allowed("")


def test_policy_rejects_bad_entries_naming_them() -> None:
    with pytest.raises(ValueError, match="10.0.0.300/8"):
        AccessPolicy(USER, PASSWORD, ["127.0.0.1", "10.0.0.300/8"])
    with pytest.raises(ValueError, match="localhost"):
        AccessPolicy(USER, PASSWORD, ["localhost"])
    with pytest.raises(ValueError, match="2001:db8::/129"):
        AccessPolicy(USER, PASSWORD, ["2001:db8::/129"])
    with pytest.raises(ValueError, match="password"):
        AccessPolicy(USER, "", ["127.0.0.1"])


def test_policy_credentials_and_logging(caplog: pytest.LogCaptureFixture) -> None:
    policy = make_policy()
    caplog.set_level(logging.INFO, logger="shardkit.console")
    assert policy.check_credentials("127.0.0.1", USER, PASSWORD)
    assert not policy.check_credentials("127.0.0.1", USER, "wrong-password")
    assert not policy.check_credentials("127.0.0.1", "root", PASSWORD)
    assert not policy.check_credentials("127.0.0.1", "ünïcode", "pässwörd")  # must not raise
    assert not policy.ip_allowed("8.8.8.8")
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels[0][0] == logging.INFO and "succeeded" in levels[0][1]
    assert [lvl for lvl, _ in levels[1:]] == [logging.WARNING] * 4
    assert "8.8.8.8" in levels[-1][1]
    for record in caplog.records:
        message = record.getMessage()
        assert PASSWORD not in message and "wrong-password" not in message
        assert "pässwörd" not in message


def test_policy_lockout_window_and_growth() -> None:
    clock = FakeClock()
    policy = make_policy(max_failures=3, window_s=60.0, lockout_s=30.0, clock=clock)
    ip, other = "127.0.0.5", "127.0.0.6"

    # failures spread wider than the window never lock
    for _ in range(5):
        assert not policy.check_credentials(ip, USER, "bad")
        clock.advance(31)
    assert policy.locked_out_for(ip) == 0.0

    expected = [30.0, 60.0, 120.0, 240.0, 480.0, MAX_LOCKOUT_S, MAX_LOCKOUT_S]
    for duration in expected:
        for _ in range(3):
            assert not policy.check_credentials(ip, USER, "bad")
        assert policy.locked_out_for(ip) == pytest.approx(duration)
        # while locked out even the right password fails, and the lock is not extended
        assert not policy.check_credentials(ip, USER, PASSWORD)
        assert policy.locked_out_for(ip) == pytest.approx(duration)
        assert policy.locked_out_for(other) == 0.0
        assert policy.check_credentials(other, USER, PASSWORD)
        clock.advance(duration - 1)
        assert policy.locked_out_for(ip) == pytest.approx(1.0)
        clock.advance(1)
        assert policy.locked_out_for(ip) == 0.0

    # a successful login forgets the escalation
    assert policy.check_credentials(ip, USER, PASSWORD)
    for _ in range(3):
        policy.check_credentials(ip, USER, "bad")
    assert policy.locked_out_for(ip) == pytest.approx(30.0)


def test_policy_escalation_forgotten_after_quiet_period() -> None:
    clock = FakeClock()
    policy = make_policy(max_failures=2, lockout_s=10.0, clock=clock)
    for _ in range(2):
        policy.check_credentials("127.0.0.9", USER, "bad")
    assert policy.locked_out_for("127.0.0.9") == pytest.approx(10.0)
    clock.advance(10 + MAX_LOCKOUT_S)
    for _ in range(2):
        policy.check_credentials("127.0.0.9", USER, "bad")
    assert policy.locked_out_for("127.0.0.9") == pytest.approx(10.0)


def test_policy_mapped_ipv6_shares_lockout_with_ipv4() -> None:
    clock = FakeClock()
    policy = make_policy(max_failures=2, clock=clock)
    policy.check_credentials("::ffff:127.0.0.1", USER, "bad")
    policy.check_credentials("127.0.0.1", USER, "bad")
    assert policy.locked_out_for("127.0.0.1") > 0
    assert policy.locked_out_for("::ffff:127.0.0.1") > 0


# -- CommandSet --------------------------------------------------------------------------------


async def test_commandset_execute(caplog: pytest.LogCaptureFixture) -> None:
    commands = make_commands()

    async def greet(args: list[str]) -> str:
        return f"hello {args[0]}"

    commands.add("greet", "say hello", greet)
    assert await commands.execute("echo 'a b'  c") == "a b c"
    assert await commands.execute("greet world") == "hello world"
    assert await commands.execute("nope 1") == "unknown command 'nope'; type 'help'"
    assert (await commands.execute("echo 'unterminated")).startswith("error: ")
    assert await commands.execute("   ") == ""
    with caplog.at_level(logging.ERROR, logger="shardkit.console"):
        assert await commands.execute("boom") == "error: kaboom"
    assert caplog.records and caplog.records[0].exc_info is not None
    help_text = await commands.execute("help")
    names = [line.split()[0] for line in help_text.splitlines()]
    assert names == sorted(names)
    assert {"boom", "echo", "greet", "help", "quit", "exit"} <= set(names)
    assert "print the arguments" in help_text
    assert await commands.execute("help echo") == "echo - print the arguments"


def test_commandset_rejects_bad_registrations() -> None:
    commands = make_commands()

    async def handler(args: list[str]) -> str:
        return ""

    for name in ("echo", "help", "quit", "exit", "", "two words"):
        with pytest.raises(ValueError):
            commands.add(name, "x", handler)


# -- telnet ------------------------------------------------------------------------------------


async def test_telnet_login_and_commands() -> None:
    async with telnet_console() as console:
        client = await TelnetClient.connect(console.port)
        banner = await client.read_until("login: ")
        assert "shardkit test manhole" in banner
        client.send(f"{USER}\r\n")
        await client.read_until("password: ")
        # offered at once: a client that agrees leaves echo and editing to the server
        assert ("WILL", ECHO) in client.events and ("WILL", SGA) in client.events
        client.send(f"{PASSWORD}\r\n")
        assert await client.read_until("> ") == "> "  # this client did not agree: no echo
        assert ("WONT", ECHO) not in client.events

        client.send("help\r\n")
        help_text = await client.read_until("> ")
        assert "echo" in help_text and "print the arguments" in help_text and "help" in help_text

        client.send("echo 'hello world' again\r\n")
        assert (await client.read_until("> ")).startswith("hello world again\r\n")

        client.send("\r\n")  # empty line just re-prompts
        assert await client.read_until("> ") == "> "

        client.send("boom\r\n")
        assert "error: kaboom" in await client.read_until("> ")
        client.send("nope\r\n")
        assert "unknown command 'nope'; type 'help'" in await client.read_until("> ")

        client.send("quit\r\n")
        assert "bye" in await client.read_to_eof()
        await client.close()


async def test_telnet_server_echo_and_line_editing() -> None:
    """A client in character mode (it agreed to WILL ECHO and WILL SGA, as a stock telnet does)
    sees what it types echoed with CR LF line ends, never the password, and can edit the line."""
    async with telnet_console() as console:
        client = await TelnetClient.connect(console.port)
        client.send(bytes([IAC, DO, ECHO, IAC, DO, SGA]))
        await client.read_until("login: ")
        # the user name and the password typed ahead in one packet: only the name is echoed
        client.send(f"{USER}\r\x00{PASSWORD}\r\x00".encode())
        assert await client.read_until("> ") == f"{USER}\r\npassword: \r\n> "

        client.send(b"echo typo\x7f\x7f\x7f\x08hi\r\x00")  # DEL and BS erase a character
        assert await client.read_until("> ") == "echo typo" + "\b \b" * 4 + "hi\r\nhi\r\n> "
        client.send(b"echo x\x1b[A\x1bOB\x1b[1;5C y\r\n")  # arrow keys are swallowed
        assert await client.read_until("> ") == "echo x y\r\nx y\r\n> "
        client.send(b"echo z\x1b\r\x00")  # Alt+Enter: the Enter still ends the line
        assert await client.read_until("> ") == "echo z\r\nz\r\n> "
        client.send(b"rm -rf\x15echo a b\x17c\r\n")  # ^U kills the line, ^W the last word
        erase = "\b \b"
        assert await client.read_until("> ") == f"rm -rf{erase * 6}echo a b{erase}c\r\na c\r\n> "
        client.send(b"boom\x03")  # ^C drops the line
        assert await client.read_until("> ") == "boom^C\r\n> "
        client.send(b"\x04")  # ^D on an empty line ends the session
        await client.read_to_eof()
        await client.close()


async def test_telnet_line_endings_cr_nul_and_bare_cr() -> None:
    async with telnet_console() as console:
        client = await TelnetClient.connect(console.port)
        await client.read_until("login: ")
        client.send(f"{USER}\r\x00".encode())
        await client.read_until("password: ")
        client.send(f"{PASSWORD}\r".encode())
        await client.read_until("> ")
        client.send(b"echo a\r")
        assert "a\r\n" in await client.read_until("> ")
        client.send(b"\necho b\n")  # LF completing the earlier CR is not an extra line
        assert (await client.read_until("> ")) == "b\r\n> "
        client.send(b"exit\r\n")
        await client.read_to_eof()
        await client.close()


async def test_telnet_wrong_password_three_tries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="shardkit.console")
    async with telnet_console() as console:
        client = await TelnetClient.connect(console.port)
        for _ in range(3):
            await client.read_until("login: ")
            client.send(f"{USER}\r\n")
            await client.read_until("password: ")
            client.send("not-the-password\r\n")
            await client.read_until("login incorrect")
        rest = await client.read_to_eof()
        assert "login:" not in rest and ">" not in rest
        await client.close()
    failed = [r for r in caplog.records if "login failed" in r.getMessage()]
    assert len(failed) == 3
    assert all("not-the-password" not in r.getMessage() for r in caplog.records)


async def test_telnet_disallowed_ip_refused(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="shardkit.console")
    # bound on 127.0.0.1; Linux lets us connect to it from any 127/8 source address
    async with telnet_console(make_policy(["127.0.0.1/32"])) as console:
        client = await TelnetClient.connect(console.port, source_ip="127.0.0.2")
        text = await client.read_to_eof()
        assert text == "access denied\r\n"
        assert not [e for e in client.events if e[0] != "data"]  # no telnet negotiation at all
        await client.close()

        allowed = await TelnetClient.connect(console.port, source_ip="127.0.0.1")
        await allowed.login()
        await allowed.close()
    assert any(
        "127.0.0.2" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )


async def test_telnet_lockout_blocks_ip_but_not_others() -> None:
    policy = make_policy(max_failures=3, lockout_s=30.0)
    async with telnet_console(policy) as console:
        attacker = await TelnetClient.connect(console.port, source_ip="127.0.0.2")
        for attempt in range(3):
            await attacker.read_until("login: ")
            attacker.send("admin\r\n")
            await attacker.read_until("password: ")
            attacker.send(f"guess{attempt}\r\n")
        assert "too many failed logins; try again in 30 s" in await attacker.read_to_eof()
        await attacker.close()

        again = await TelnetClient.connect(console.port, source_ip="127.0.0.2")
        text = await again.read_to_eof()
        assert text.startswith("too many failed logins; try again in ")
        assert "login:" not in text
        await again.close()

        other = await TelnetClient.connect(console.port, source_ip="127.0.0.3")
        await other.login()
        other.send("echo still here\r\n")
        assert "still here" in await other.read_until("> ")
        await other.close()


@pytest.mark.parametrize("phase", ["before-login", "after-login"])
async def test_telnet_garbage_does_not_crash_server(phase: str) -> None:
    errors: list[dict[str, object]] = []
    install_error_collector(errors)
    rng = random.Random(f"shardkit-{phase}")
    nasty = [
        bytes([IAC, WILL, ECHO]),  # illegal for a client
        bytes([IAC, DO, 18]),  # DO LOGOUT
        bytes([IAC, SB, 24]) + b"x" * 9000,  # unterminated sub-negotiation
        bytes([IAC, SB, IAC, SE]),
        bytes([IAC, 0xF4, IAC, 0xF3, IAC, IAC, IAC]),  # IP, BRK, escaped IAC, dangling IAC
        bytes([IAC, WILL, 86, IAC, SB, 87, IAC, SE]),  # MCCP offers
        b"\x16\x03\x01\x00\xa5",  # a TLS ClientHello start
        b"\r\x00\r\n\x1b[A\x7f\x08\x00'\"\\",
    ]
    # a high failure limit, so that every round reaches the telnet parser instead of the lockout
    async with telnet_console(make_policy(max_failures=1000)) as console:
        for round_no in range(6):
            # garbage logins count as failures: keep the well-behaved client on another IP
            bad = await TelnetClient.connect(console.port, source_ip="127.0.0.2")
            if phase == "after-login":
                await bad.login()
            chunks = [rng.randbytes(rng.randint(1, 600)) for _ in range(8)] + nasty
            rng.shuffle(chunks)
            if round_no == 0:
                chunks = [bytes([IAC]) * 2000]  # pure IAC flood
            try:
                for chunk in chunks:
                    bad.send(chunk)
                    await asyncio.wait_for(bad.writer.drain(), WAIT)
            except ConnectionError:
                pass  # the server may hang up on garbage; that is fine
            await bad.close()

        good = await TelnetClient.connect(console.port, source_ip="127.0.0.3")
        await good.login()
        good.send("echo survived\r\n")
        assert "survived" in await good.read_until("> ")
        await good.close()
    assert errors == []


async def test_telnet_overlong_line_disconnects() -> None:
    async with telnet_console(max_line_bytes=4096) as console:
        client = await TelnetClient.connect(console.port)
        await client.login()
        client.send(b"echo " + b"A" * 5000)
        assert "input line too long" in await client.read_to_eof()
        await client.close()

        pre_login = await TelnetClient.connect(console.port)
        await pre_login.read_until("login: ")
        pre_login.send(b"B" * 10000 + b"\r\n")
        assert "input line too long" in await pre_login.read_to_eof()
        await pre_login.close()


async def test_telnet_idle_client_dropped() -> None:
    async with telnet_console(idle_timeout=0.3) as console:
        client = await TelnetClient.connect(console.port)
        await client.login()
        assert "idle timeout" in await client.read_to_eof(timeout=WAIT)
        await client.close()


async def test_telnet_login_timeout() -> None:
    async with telnet_console(login_timeout=0.3) as console:
        client = await TelnetClient.connect(console.port)
        await client.read_until("login: ")
        assert "login timed out" in await client.read_to_eof(timeout=WAIT)
        await client.close()


async def test_telnet_close_disconnects_sessions() -> None:
    async with telnet_console() as console:
        client = await TelnetClient.connect(console.port)
        await client.login()
        console.close()
        await asyncio.wait_for(console.wait_closed(), WAIT)
        await client.read_to_eof()
        await client.close()


# -- SSH ---------------------------------------------------------------------------------------


async def test_ssh_host_key_created_with_mode_600(tmp_path: Path) -> None:
    key_path = tmp_path / "secrets" / "console" / "ssh_host_ed25519_key"
    async with ssh_console(key_path) as console:
        assert key_path.exists()
        assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
        async with ssh_connect(console.port) as conn:
            first = conn.get_server_host_key()
    key = asyncssh.read_private_key(key_path)
    assert key.algorithm == b"ssh-ed25519"
    async with ssh_console(key_path) as console:  # reused, not regenerated
        async with ssh_connect(console.port) as conn:
            second = conn.get_server_host_key()
    assert first is not None and second is not None
    assert first.public_data == second.public_data == key.public_data


async def test_ssh_exec_and_shell(tmp_path: Path) -> None:
    async with ssh_console(tmp_path / "host_key") as console, ssh_connect(console.port) as conn:
        result = await asyncio.wait_for(conn.run("echo 'a b' c", check=False), WAIT)
        assert result.exit_status == 0
        assert result.stdout == "a b c\n"

        result = await asyncio.wait_for(conn.run("nope", check=False), WAIT)
        assert result.stdout == "unknown command 'nope'; type 'help'\n"

        process = await conn.create_process(term_type="xterm", term_size=(120, 40))
        out = await asyncio.wait_for(process.stdout.readuntil("> "), WAIT)
        assert "shardkit test world console" in out
        process.stdin.write("help\n")
        out = await asyncio.wait_for(process.stdout.readuntil("print the arguments"), WAIT)
        await asyncio.wait_for(process.stdout.readuntil("> "), WAIT)
        process.stdin.write("echo from shell\n")
        out = await asyncio.wait_for(process.stdout.readuntil("> "), WAIT)
        assert "from shell\r\n" in out
        process.stdin.write("boom\n")
        out = await asyncio.wait_for(process.stdout.readuntil("> "), WAIT)
        assert "error: kaboom" in out
        process.stdin.write("quit\n")
        await asyncio.wait_for(process.wait(), WAIT)
        assert process.exit_status == 0


async def test_ssh_shell_without_pty(tmp_path: Path) -> None:
    async with ssh_console(tmp_path / "host_key") as console, ssh_connect(console.port) as conn:
        result = await asyncio.wait_for(
            conn.run(input="echo one\necho two\nexit\n", check=False), WAIT
        )
        assert result.exit_status == 0
        assert "one\n" in result.stdout and "two\n" in result.stdout
        assert result.stdout.rstrip().endswith("bye")


async def test_ssh_wrong_password_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="shardkit.console")
    async with ssh_console(tmp_path / "host_key") as console:
        with pytest.raises(asyncssh.PermissionDenied):
            async with ssh_connect(console.port, password="Wr0ng-Secret!"):
                pass
    assert any("login failed" in r.getMessage() for r in caplog.records)
    assert all("Wr0ng-Secret!" not in r.getMessage() for r in caplog.records)


async def test_ssh_disallowed_ip_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="shardkit.console")
    async with ssh_console(tmp_path / "host_key", make_policy(["127.0.0.1/32"])) as console:
        with pytest.raises((asyncssh.Error, OSError)):
            async with ssh_connect(console.port, source_ip="127.0.0.2"):
                pass
        async with ssh_connect(console.port, source_ip="127.0.0.1") as conn:
            result = await asyncio.wait_for(conn.run("echo ok", check=False), WAIT)
            assert result.stdout == "ok\n"
    assert any("127.0.0.2" in r.getMessage() for r in caplog.records)


async def test_ssh_locked_out_ip_fails_auth(tmp_path: Path) -> None:
    policy = make_policy(max_failures=2)
    async with ssh_console(tmp_path / "host_key", policy) as console:
        for _ in range(2):
            with pytest.raises(asyncssh.PermissionDenied):
                async with ssh_connect(console.port, password="bad", source_ip="127.0.0.2"):
                    pass
        assert policy.locked_out_for("127.0.0.2") > 0
        with pytest.raises(asyncssh.PermissionDenied):
            async with ssh_connect(console.port, source_ip="127.0.0.2"):
                pass
        async with ssh_connect(console.port, source_ip="127.0.0.3") as conn:
            result = await asyncio.wait_for(conn.run("echo fine", check=False), WAIT)
            assert result.stdout == "fine\n"


def _openssh_with_askpass() -> bool:
    """OpenSSH client present and new enough for SSH_ASKPASS_REQUIRE (8.4+)."""
    ssh = shutil.which("ssh")
    if ssh is None:
        return False
    version = subprocess.run([ssh, "-V"], capture_output=True, text=True, timeout=10).stderr
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= (8, 4)


@pytest.mark.skipif(not _openssh_with_askpass(), reason="needs an OpenSSH >= 8.4 client")
async def test_ssh_with_openssh_client(tmp_path: Path) -> None:
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{PASSWORD}'\n", encoding="utf-8")
    askpass.chmod(0o700)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")

    async def run_ssh(
        port: int, options: list[str], command: list[str], stdin: bytes = b""
    ) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            "ssh", "-F", "/dev/null",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o", "NumberOfPasswordPrompts=1",
            "-p", str(port), *options, f"{USER}@127.0.0.1", *command,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,  # no controlling tty: the password comes from askpass
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(stdin), WAIT * 2)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode is not None
        return proc.returncode, out.decode("utf-8", errors="replace")

    async with ssh_console(tmp_path / "host_key") as console:
        rc, out = await run_ssh(console.port, [], ["echo", "'a b'", "c"])
        assert (rc, out) == (0, "a b c\n")
        rc, out = await run_ssh(console.port, ["-tt"], [], stdin=b"echo via pty\nquit\n")
        assert rc == 0
        assert "shardkit test world console" in out and "via pty\r\n" in out and "bye" in out
