"""SSH admin console (WorldServer): the asyncssh transport of the shell, password login only."""

# Everything a session does (banner, prompt/execute loop, limits) is the shared shell's
# (console/shell.py). This module keeps the SSH specifics: the host key, the address check
# before the version exchange, password authentication through the shell's LoginTries (the
# lockout said in an auth banner), and the channel: an interactive shell (asyncssh's line
# editor when the client asked for a pty) or one ``exec`` command; subsystems are refused.

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from pathlib import Path
from typing import Unpack

import asyncssh

from shardkit.console.access import AccessPolicy
from shardkit.console.commands import CommandSet
from shardkit.console.limits import CommandRate, LimitOptions, ShellLimits
from shardkit.console.server import ConsoleServer
from shardkit.console.shell import (
    ConsoleShell,
    LineTooLong,
    LoginTries,
    lockout_text,
)
from shardkit.runtime.private_files import create_private_dirs, tighten

__all__ = ["SshConsole", "load_or_create_host_key", "start_ssh_console"]

log = logging.getLogger("shardkit.console")


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
        self._tries: LoginTries | None = None
        self.rate = console.shell.new_rate()  # one budget for all channels of the connection

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        ip = str(peer[0]) if peer else ""
        if not self._console.policy.ip_allowed(ip):  # logs the refusal
            # Closed before the SSH version exchange: nothing is sent to the client.
            conn.abort()
            return
        self._conn = conn
        self._tries = LoginTries(self._console.policy, ip)
        self._console._connected(conn, conn.close)
        self._console._run(conn.wait_closed(), f"ssh-console {ip}")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._console._disconnected(self._conn)

    def begin_auth(self, username: str) -> bool:
        if self._tries is None or self._conn is None:
            return True
        remaining = self._tries.locked_out_for()
        if remaining > 0:
            log.warning("console: SSH login from %s while %s", self._tries.ip,
                        lockout_text(remaining))
            try:
                self._conn.send_auth_banner(lockout_text(remaining) + "\r\n")
            except OSError:
                pass
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return self._tries is not None and not self._tries.exhausted

    def validate_password(self, username: str, password: str) -> bool:
        return self._tries is not None and self._tries.check(username, password)

    def public_key_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False


class _SshLineIO:
    """The shell's LineIO over one SSH session channel."""

    def __init__(self, process: asyncssh.SSHServerProcess[str], max_line_bytes: int) -> None:
        self._process = process
        self._max = max_line_bytes

    async def read_line(self, *, secret: bool = False) -> str | None:
        # ``secret`` is never asked for: SSH authenticates before the session starts.
        while True:
            try:
                line = await self._process.stdin.readline()
            except asyncssh.TerminalSizeChanged:
                continue
            except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                # Ctrl-C: the line being typed is dropped (from asyncssh's line editor too,
                # which exists when the client asked for a pty) and the prompt comes again
                clear_input = getattr(self._process.channel, "clear_input", None)
                if self._process.get_terminal_type() is not None and clear_input is not None:
                    clear_input()
                await self.write("\n")
                return ""
            except asyncssh.Error as exc:
                raise ConnectionResetError(str(exc)) from exc
            if not line:
                return None  # EOF (or Ctrl-D on an empty line)
            line = line.rstrip("\r\n")
            if len(line.encode("utf-8", "replace")) > self._max:
                raise LineTooLong
            return line

    async def write(self, text: str) -> None:
        try:
            self._process.stdout.write(text)
            await self._process.stdout.drain()
        except asyncssh.Error as exc:
            raise ConnectionResetError(str(exc)) from exc


class SshConsole(ConsoleServer):
    """A listening SSH console; made by :func:`start_ssh_console`."""

    async def _handle_process(self, process: asyncssh.SSHServerProcess[str]) -> None:
        peer = process.get_extra_info("peername")
        ip = str(peer[0]) if peer else ""
        owner = process.get_extra_info("connection").get_owner()
        rate: CommandRate | None = owner.rate if isinstance(owner, _ConsoleSshServer) else None
        io = _SshLineIO(process, self.shell.limits.max_line_bytes)
        status = 1
        try:
            if process.subsystem is not None:
                process.stderr.write(f"subsystem {process.subsystem!r} is not supported\n")
            elif process.command is not None:
                status = await self.shell.run_once(
                    io, ip, process.command, transport="SSH", rate=rate)
            else:
                status = await self.shell.serve(io, ip, transport="SSH", rate=rate)
        except (OSError, asyncssh.Error):
            pass  # client went away
        finally:
            process.exit(status)  # no-op if the channel is already closed


async def start_ssh_console(
    host: str,
    port: int,
    *,
    policy: AccessPolicy,
    commands: CommandSet,
    host_key_path: Path,
    banner: str,
    prompt: str = "> ",
    **limits: Unpack[LimitOptions],
) -> SshConsole:
    """Start an SSH console on ``host:port`` (port 0 picks a free port: see ``.port``).

    Password authentication only, checked by ``policy``. The host key is read from
    ``host_key_path`` or generated there. ``limits`` are the fields of
    :class:`~shardkit.console.shell.ShellLimits`; ``login_timeout`` bounds SSH authentication.
    """
    shell = ConsoleShell(commands, banner=banner, prompt=prompt, limits=ShellLimits(**limits))
    console = SshConsole(shell, policy)
    host_key = await load_or_create_host_key(Path(host_key_path))
    acceptor = await asyncssh.listen(
        host,
        port,
        server_factory=lambda: _ConsoleSshServer(console),
        process_factory=console._handle_process,
        server_host_keys=[host_key],
        encoding="utf-8",
        errors="replace",
        line_editor=True,
        max_line_length=shell.limits.max_line_bytes,
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
        login_timeout=shell.limits.login_timeout,
    )
    console.listener = acceptor
    console.port = acceptor.get_port()
    log.info("console: SSH console listening on %s:%d", host, console.port)
    return console
