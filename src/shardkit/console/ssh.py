"""SSH admin console (WorldServer): asyncssh, password login, interactive shell and exec."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
from pathlib import Path

import asyncssh

from shardkit.console.access import AccessPolicy
from shardkit.console.commands import EXIT_COMMANDS, CommandSet
from shardkit.runtime.private_files import create_private_dirs, tighten

__all__ = ["SshConsole", "load_or_create_host_key", "start_ssh_console"]

log = logging.getLogger("shardkit.console")

#: Wrong passwords allowed per SSH connection; after that password auth is withdrawn.
MAX_LOGIN_TRIES = 3


def _load_or_create_host_key_sync(path: Path) -> asyncssh.SSHKey:
    try:
        key = asyncssh.read_private_key(path)
    except FileNotFoundError:
        pass
    else:
        tighten(path, what="SSH host key")
        return key
    create_private_dirs(path.parent)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="shardkit console host key")
    # Several world servers may share one key path and start together: write a private temp
    # file, then hard-link it into place, which is atomic and never replaces an existing key
    # (so nobody can read a half-written file, and the first writer wins).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # exact mode whatever the umask
            fh.write(key.export_private_key("openssh"))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return asyncssh.read_private_key(path)  # another process won the race: use its key
    finally:
        tmp.unlink(missing_ok=True)
    log.info(
        "console: generated SSH host key %s (%s)",
        path,
        key.convert_to_public().get_fingerprint("sha256"),
    )
    return key


async def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """Load the host key at ``path``, or generate an ed25519 key there (mode 0o600) if missing."""
    return await asyncio.to_thread(_load_or_create_host_key_sync, Path(path))


class _ConsoleSshServer(asyncssh.SSHServer):
    """Per-connection asyncssh server: address check, password-only auth through the policy."""

    def __init__(self, console: SshConsole) -> None:
        self._console = console
        self._conn: asyncssh.SSHServerConnection | None = None
        self._ip = ""
        self._failures = 0

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        self._ip = str(peer[0]) if peer else ""
        if not self._console.policy.ip_allowed(self._ip):  # logs the refusal
            # Closed before the SSH version exchange: nothing is sent to the client.
            conn.abort()
            return
        self._conn = conn
        self._console._conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._console._conns.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        remaining = self._console.policy.locked_out_for(self._ip)
        if remaining > 0 and self._conn is not None:
            log.warning(
                "console: SSH login from %s while locked out for %d more s",
                self._ip,
                math.ceil(remaining),
            )
            try:
                self._conn.send_auth_banner(
                    f"too many failed logins; try again in {math.ceil(remaining)} s\r\n"
                )
            except OSError:
                pass
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return self._failures < MAX_LOGIN_TRIES

    def validate_password(self, username: str, password: str) -> bool:
        ok = self._console.policy.check_credentials(self._ip, username, password)
        if not ok:
            self._failures += 1
        return ok

    def public_key_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False


class _LineTooLong(Exception):
    """An input line exceeded max_line_bytes."""


class _Interrupted(Exception):
    """Ctrl-C (break or signal) while reading a line."""


class SshConsole:
    """A listening SSH console; made by :func:`start_ssh_console`."""

    def __init__(
        self,
        *,
        policy: AccessPolicy,
        commands: CommandSet,
        banner: str,
        prompt: str,
        idle_timeout: float,
        max_line_bytes: int,
    ) -> None:
        self.policy = policy
        self.commands = commands
        self.banner = banner
        self.prompt = prompt
        self.idle_timeout = idle_timeout
        self.max_line_bytes = max_line_bytes
        self.port = 0
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._conns: set[asyncssh.SSHServerConnection] = set()

    def close(self) -> None:
        """Stop listening and disconnect every client."""
        if self._acceptor is not None:
            self._acceptor.close()
        for conn in list(self._conns):
            conn.close()

    async def wait_closed(self) -> None:
        """Wait until the listener and all connections are closed (call :meth:`close` first)."""
        if self._acceptor is not None:
            await self._acceptor.wait_closed()
        conns = list(self._conns)
        if conns:
            await asyncio.gather(*(conn.wait_closed() for conn in conns), return_exceptions=True)

    # -- sessions -----------------------------------------------------------------------------

    async def _handle_process(self, process: asyncssh.SSHServerProcess[str]) -> None:
        peer = process.get_extra_info("peername")
        ip = str(peer[0]) if peer else ""
        status = 0
        try:
            if process.subsystem is not None:
                process.stderr.write(f"subsystem {process.subsystem!r} is not supported\n")
                status = 1
            elif process.command is not None:
                await self._exec(process, process.command)
            else:
                await self._shell(process, ip)
        except _LineTooLong:
            log.warning("console: SSH client %s sent an over-long line; disconnecting", ip)
            status = 1
            try:
                process.stdout.write(
                    f"\nerror: input line too long (max {self.max_line_bytes} bytes)\n"
                )
            except OSError:
                pass
        except (OSError, asyncssh.Error):
            pass  # client went away
        except Exception:
            log.exception("console: SSH session from %s failed", ip)
            status = 1
        finally:
            process.exit(status)  # no-op if the channel is already closed

    async def _send(self, process: asyncssh.SSHServerProcess[str], text: str) -> None:
        process.stdout.write(text)
        async with asyncio.timeout(self.idle_timeout or None):
            await process.stdout.drain()

    async def _exec(self, process: asyncssh.SSHServerProcess[str], command: str) -> None:
        line = command.strip()
        if not line or line.split()[0] in EXIT_COMMANDS:
            return
        output = await self.commands.execute(line)
        if output:
            await self._send(process, output if output.endswith("\n") else output + "\n")

    async def _read_line(self, process: asyncssh.SSHServerProcess[str]) -> str | None:
        while True:
            try:
                async with asyncio.timeout(self.idle_timeout or None):
                    line = await process.stdin.readline()
            except asyncssh.TerminalSizeChanged:
                continue
            except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                raise _Interrupted from None
            if not line:
                return None  # EOF (or Ctrl-D on an empty line)
            line = line.rstrip("\r\n")
            if len(line.encode("utf-8", "replace")) > self.max_line_bytes:
                raise _LineTooLong
            return line

    async def _shell(self, process: asyncssh.SSHServerProcess[str], ip: str) -> None:
        log.info("console: SSH session from %s started", ip)
        try:
            if self.banner:
                await self._send(process, self.banner.rstrip("\n") + "\n")
            while True:
                await self._send(process, self.prompt)
                try:
                    line = await self._read_line(process)
                except _Interrupted:
                    await self._send(process, "\n")
                    continue
                if line is None:
                    return
                line = line.strip()
                if not line:
                    continue
                if line.split()[0] in EXIT_COMMANDS:
                    await self._send(process, "bye\n")
                    return
                output = await self.commands.execute(line)
                if output:
                    await self._send(process, output if output.endswith("\n") else output + "\n")
        except TimeoutError:
            log.info("console: SSH session from %s idle; disconnecting", ip)
            try:
                process.stdout.write("\nidle timeout; disconnecting\n")
            except OSError:
                pass
        finally:
            log.info("console: SSH session from %s ended", ip)


async def start_ssh_console(
    host: str,
    port: int,
    *,
    policy: AccessPolicy,
    commands: CommandSet,
    host_key_path: Path,
    banner: str,
    prompt: str = "> ",
    idle_timeout: float = 600.0,
    login_timeout: float = 60.0,
    max_line_bytes: int = 4096,
) -> SshConsole:
    """Start an SSH console on ``host:port`` (port 0 picks a free port: see ``.port``).

    Password authentication only, checked by ``policy``. The host key is read from
    ``host_key_path`` or generated there. ``idle_timeout`` ends a shell session with no input
    for that long, ``login_timeout`` bounds SSH authentication (0 disables either).
    """
    if max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be >= 1, got {max_line_bytes}")
    host_key = await load_or_create_host_key(Path(host_key_path))
    console = SshConsole(
        policy=policy,
        commands=commands,
        banner=banner,
        prompt=prompt,
        idle_timeout=idle_timeout,
        max_line_bytes=max_line_bytes,
    )
    console._acceptor = await asyncssh.listen(
        host,
        port,
        server_factory=lambda: _ConsoleSshServer(console),
        process_factory=console._handle_process,
        server_host_keys=[host_key],
        encoding="utf-8",
        errors="replace",
        line_editor=True,
        max_line_length=max_line_bytes,
        password_auth=True,
        public_key_auth=False,
        kbdint_auth=False,
        host_based_auth=False,
        gss_host=None,
        gss_kex=False,
        gss_auth=False,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_scp=False,
        login_timeout=login_timeout,
    )
    console.port = console._acceptor.get_port()
    log.info("console: SSH console listening on %s:%d", host, console.port)
    return console
