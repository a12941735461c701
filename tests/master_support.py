"""Master test helpers: a master process, raw SCRAM logins from any loopback IP, telnet, fakes."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from shardkit.config.settings import Settings, load_settings, per_world_key
from shardkit.master.notifications import KickAccount
from shardkit.master.schemas import AnnounceWorld
from shardkit.testing.harness import RunningProcess, start_shardkit, write_cluster_config
from shardkit.wire.handshake import authenticate_service
from shardkit.wire.rpc import (
    Identity,
    Router,
    RpcConnection,
    RpcError,
    RpcServer,
    connect,
    rpc,
    serve,
)
from shardkit.wire.scram import ScramClientSession, make_verifier
from shardkit.wire.tickets import TicketRedeemer, world_server
from shardkit.world.schemas import TicketLogin

WAIT = 10.0


@dataclass
class MasterProcess:
    """A ``shardkit master`` process and the ports it announced."""

    root: Path
    settings: Settings
    process: RunningProcess

    @property
    def port(self) -> int:
        return self.settings.server.master.port

    def announced_port(self, what: str) -> int:
        pattern = re.compile(re.escape(what) + r" listening on [\d.]+:(\d+)")
        for line in reversed(self.process.lines):
            match = pattern.search(line)
            if match:
                return int(match.group(1))
        raise AssertionError(f"nothing announced '{what} listening on'")

    @property
    def manhole_port(self) -> int:
        return self.announced_port("master manhole (telnet)")

    @property
    def status_port(self) -> int:
        return self.announced_port("master status page (http)")

    def stop(self) -> int:
        return self.process.stop()


def start_master(root: Path, **master_options: object) -> MasterProcess:
    """Write a test config with these [master] keys and start only the master."""
    write_cluster_config(root, master_options=master_options)
    return launch_master(root)


def launch_master(root: Path) -> MasterProcess:
    """Start ``shardkit master`` on an existing config and wait until every port is up."""
    process = start_shardkit(root, "master")
    try:
        process.wait_for_line("master status page (http)", timeout=30)
    except AssertionError:
        process.stop()
        raise
    return MasterProcess(root, load_settings(root), process)


async def connect_from(ip: str, port: int, router: Router | None = None) -> RpcConnection:
    """A MessagePack-RPC connection to the master whose source address is ``ip`` (127.0.0.0/8)."""
    return await connect("127.0.0.1", port, router, local_addr=(ip, 0))


async def register(port: int, name: str, password: str, key: str = "", ip: str = "127.0.0.1",
                   iterations: int = 4096) -> dict[str, Any]:
    conn = await connect_from(ip, port)
    try:
        verifier = await asyncio.to_thread(make_verifier, password, iterations)
        result: dict[str, Any] = await conn.call(
            "register", name, verifier.salt, verifier.stored_key, verifier.server_key,
            verifier.iterations, key)
        return result
    finally:
        conn.close()


async def scram_login(conn: RpcConnection, name: str, password: str) -> dict[str, Any]:
    """Both SCRAM steps on ``conn``; returns login_finish's result (raises RpcError)."""
    scram = ScramClientSession(name, password)
    started = await conn.call("login_start", name, scram.first())
    client_final = await asyncio.to_thread(scram.final, started["server_first"])
    done: dict[str, Any] = await conn.call("login_finish", client_final)
    scram.verify(done["server_final"])
    return done


async def login_from(ip: str, port: int, name: str, password: str,
                     router: Router | None = None) -> RpcConnection:
    """A connection from ``ip`` logged in as ``name``; closed again if the login fails."""
    conn = await connect_from(ip, port, router)
    try:
        await scram_login(conn, name, password)
    except BaseException:
        conn.close()
        raise
    return conn


async def error_of(awaitable: Any) -> RpcError:
    """The RpcError an awaitable raises (fails the test if it succeeds)."""
    try:
        await awaitable
    except RpcError as exc:
        return exc
    raise AssertionError("expected an RpcError")


# ----------------------------------------------------------------------------- telnet


class Telnet:
    """A raw telnet client that drops option negotiation (IAC sequences) and reads text."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.text = ""
        self.eof = False

    @classmethod
    async def open(cls, port: int, source_ip: str = "127.0.0.1") -> Telnet:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source_ip, 0)), WAIT)
        return cls(reader, writer)

    @staticmethod
    def _strip_iac(data: bytes) -> bytes:
        out, i = bytearray(), 0
        while i < len(data):
            if data[i] == 255 and i + 1 < len(data):
                i += 3 if data[i + 1] in (251, 252, 253, 254) else 2
                continue
            out.append(data[i])
            i += 1
        return bytes(out)

    async def _fill(self) -> None:
        data = await self.reader.read(4096)
        if not data:
            self.eof = True
            return
        self.text += self._strip_iac(data).decode("utf-8", "replace").replace("\r\x00", "\r")

    async def read_until(self, token: str, timeout: float = WAIT) -> str:
        async def wait() -> str:
            while token not in self.text:
                if self.eof:
                    raise AssertionError(f"EOF before {token!r}; got {self.text!r}")
                await self._fill()
            end = self.text.index(token) + len(token)
            out, self.text = self.text[:end], self.text[end:]
            return out

        return await asyncio.wait_for(wait(), timeout)

    async def read_all(self, timeout: float = WAIT) -> str:
        async def wait() -> str:
            while not self.eof:
                await self._fill()
            out, self.text = self.text, ""
            return out

        return await asyncio.wait_for(wait(), timeout)

    def send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\r\n")

    async def login(self, user: str, password: str) -> str:
        await self.read_until("login: ")
        self.send(user)
        await self.read_until("password: ")
        self.send(password)
        return await self.read_until("> ")

    async def run(self, command: str) -> str:
        """Run one command; its output without the prompt."""
        self.send(command)
        out = await self.read_until("> ")
        return out[: -len("> ")].strip()

    def close(self) -> None:
        self.writer.close()


async def manhole(port: int, password: str, command: str) -> str:
    """Log in to the manhole from 127.0.0.1, run one command, return its output."""
    telnet = await Telnet.open(port)
    try:
        await telnet.login("admin", password)
        return await telnet.run(command)
    finally:
        telnet.close()


# ----------------------------------------------------------------------------- fakes


class FakeDaemon:
    """Announces a world to the master as its daemon would, heartbeats on demand, records kicks."""

    def __init__(self, world: str) -> None:
        self.world = world
        self.kicks: list[KickAccount] = []
        self.conn: RpcConnection

    @rpc("kick_account", KickAccount, roles=("master",))
    def kick_account(self, conn: RpcConnection, p: KickAccount) -> None:
        """Record a kick."""
        self.kicks.append(p)

    @classmethod
    async def announce(cls, master: MasterProcess, world: str, host: str, port: int,
                       capacity: int) -> FakeDaemon:
        daemon = cls(world)
        daemon.conn = await connect("127.0.0.1", master.port, Router.for_services(daemon))
        await authenticate_service(daemon.conn, role="daemon", name=world,
                                   secret=master.settings.secrets.world_key(world),
                                   peer_role="master")
        await daemon.conn.call("announce_world", *msgspec.structs.astuple(
            AnnounceWorld(world, host, port, "127.0.0.1", 1, capacity)))
        return daemon

    async def heartbeat(self, population: int, status: str = "up",
                        crash_loops: tuple[str, ...] = ()) -> None:
        """Send a heartbeat; wait until the master has handled it (a call, not a notification)."""
        await self.conn.call("heartbeat", self.world, population, status, list(crash_loops))

    def close(self) -> None:
        self.conn.close("fake daemon done")


class FakeWorld:
    """A world port that only redeems master tickets, to prove the tickets work."""

    def __init__(self, key: bytes, world: str) -> None:
        """``key``: the master's ``ticket_key``; this world's own is derived from it."""
        self.redeemer = TicketRedeemer(per_world_key(key, "ticket", world), kind="world")
        self.world = world
        self.server: RpcServer | None = None
        self.logins: list[str] = []

    @rpc("ticket_login", TicketLogin, public=True)
    def ticket_login(self, conn: RpcConnection, p: TicketLogin) -> dict[str, Any]:
        """Redeem a ticket."""
        ticket = self.redeemer.redeem(p.ticket, world_server(self.world, 0))
        conn.identity = Identity("player", ticket.account_name, ticket.account_id)
        self.logins.append(ticket.account_name)
        return {"world": self.world, "cluster": 0, "account_id": ticket.account_id,
                "account_name": ticket.account_name}

    async def start(self) -> int:
        self.server = await serve("127.0.0.1", 0, Router.for_services(self))
        return self.server.port

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
