"""MasterServer process: the master port (players and services), the manhole console, the accounts DB."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shardkit.config.settings import Settings
from shardkit.console.access import AccessPolicy
from shardkit.console.commands import CommandSet
from shardkit.console.telnet import start_telnet_console
from shardkit.master.accounts_rules import MIN_PASSWORD_LENGTH, NAME_PATTERN, name_problem
from shardkit.master.schemas import (
    AccountInfo,
    AnnounceWorld,
    DaemonAddress,
    EnterWorld,
    Heartbeat,
    LoginDone,
    LoginFinish,
    LoginStart,
    LoginStarted,
    RegisterParams,
    RegistrationRules,
    WorldEntry,
    WorldInfo,
)
from shardkit.master.worlds import WorldRegistry
from shardkit.runtime.main import announce
from shardkit.store.accounts import AccountStore, NameTaken
from shardkit.store.database import Database
from shardkit.wire.handshake import ServiceAuth, close_after_reply, derive_key
from shardkit.wire.rpc import (
    Identity,
    Router,
    RpcConnection,
    RpcError,
    RpcServer,
    params_of,
    rpc,
    serve,
)
from shardkit.wire.scram import ScramError, ScramServerSession, Verifier, decoy_verifier
from shardkit.wire.tickets import issue_ticket

log = logging.getLogger("shardkit.master")

MAX_LOGIN_FAILURES_PER_CONNECTION = 3


class MasterPort:
    """Methods of the master port: players log in and pick a world; daemons announce worlds."""

    def __init__(self, master: MasterServer) -> None:
        self.master = master

    # ------------------------------------------------------------- accounts
    @rpc("registration_rules", public=True)
    def registration_rules(self, conn: RpcConnection) -> RegistrationRules:
        """What a new account needs: the SCRAM iteration count and the name and password rules."""
        return RegistrationRules(
            self.master.settings.server.master.scram_iterations, MIN_PASSWORD_LENGTH, NAME_PATTERN
        )

    @rpc("register", RegisterParams, public=True)
    async def register(self, conn: RpcConnection, p: RegisterParams) -> AccountInfo:
        """Create an account from a client-made SCRAM verifier (the password never crosses the wire)."""
        problem = name_problem(p.username)
        if problem:
            raise RpcError("bad_name", problem)
        minimum = self.master.settings.server.master.scram_iterations
        if p.iterations < minimum or p.iterations > 1_000_000:
            raise RpcError("bad_params", f"`iterations` must be at least {minimum}")
        if not (16 <= len(p.salt) <= 64 and len(p.stored_key) == 32 and len(p.server_key) == 32):
            raise RpcError("bad_params", "verifier needs a 16-64 byte salt and 32-byte keys")
        try:
            record = await self.master.accounts.create(
                p.username, p.salt, p.stored_key, p.server_key, p.iterations
            )
        except NameTaken:
            raise RpcError("name_taken", f"the name '{p.username}' is taken") from None
        log.info("registered account %s from %s", record.name, conn.peer_ip)
        return AccountInfo(record.id, record.name, record.role)

    @rpc("login_start", LoginStart, public=True)
    async def login_start(self, conn: RpcConnection, p: LoginStart) -> LoginStarted:
        """SCRAM-SHA-256 step 1: send client-first, get server-first (salt, iterations, nonce)."""
        if conn.identity is not None:
            raise RpcError("already_authenticated", "this connection is already logged in")
        record = await self.master.accounts.get_by_name(p.username)
        if record is None:
            verifier = self.master.decoy(p.username)
        else:
            verifier = Verifier(record.salt, record.stored_key, record.server_key, record.iterations)
        session = ScramServerSession(verifier)
        try:
            server_first = session.first(p.client_first)
        except ScramError as exc:
            raise RpcError("bad_params", f"`client_first` is not SCRAM: {exc}") from None
        if (session.username or "").casefold() != p.username.casefold():
            raise RpcError("bad_params", "`client_first` names another user than `username`")
        conn.state["scram"] = (session, record)
        return LoginStarted(server_first)

    @rpc("login_finish", LoginFinish, public=True)
    async def login_finish(self, conn: RpcConnection, p: LoginFinish) -> LoginDone:
        """SCRAM-SHA-256 step 2: send the client proof, get the server's proof and the account."""
        pending = conn.state.pop("scram", None)
        if pending is None:
            raise RpcError("auth_failed", "call login_start first")
        session, record = pending
        try:
            server_final = session.final(p.client_final)
            ok = record is not None
        except ScramError:
            ok = False
        if not ok:
            await self.master.accounts.record_login(record.id if record else None, conn.peer_ip, False)
            failures = conn.state.get("failures", 0) + 1
            conn.state["failures"] = failures
            if failures >= MAX_LOGIN_FAILURES_PER_CONNECTION:
                close_after_reply(conn, "too many failed logins")
            raise RpcError("auth_failed", "wrong name or password")
        assert record is not None
        await self.master.accounts.record_login(record.id, conn.peer_ip, True)
        conn.identity = Identity("player", record.name, record.id)
        self.master.take_session(conn, record.id)
        return LoginDone(server_final, AccountInfo(record.id, record.name, record.role))

    # --------------------------------------------------------------- worlds
    @rpc("worlds")
    def worlds(self, conn: RpcConnection) -> list[WorldInfo]:
        """The world list: name, status (up, full, down), population and capacity."""
        return self.master.registry.listing()

    @rpc("enter_world", EnterWorld)
    def enter_world(self, conn: RpcConnection, p: EnterWorld) -> WorldEntry:
        """A world's address and a short-lived, single-use ticket to enter it."""
        entry = self.master.registry.get(p.world)
        status = self.master.registry.status(p.world)
        if entry is None:
            raise RpcError("no_such_world", f"there is no world '{p.world}'")
        if status == "down":
            raise RpcError("world_down", f"'{p.world}' is down; try again later")
        if status == "full":
            raise RpcError("world_full", f"'{p.world}' is full")
        assert conn.identity is not None and conn.identity.account_id is not None
        ticket = issue_ticket(
            self.master.ticket_key,
            kind="world",
            account_id=conn.identity.account_id,
            account_name=conn.identity.name,
            destination=p.world,
            ttl_s=self.master.settings.server.master.ticket_ttl_s,
        )
        world = entry.announcement
        return WorldEntry(world.name, world.host, world.port, ticket)

    # ------------------------------------------------------------- services
    @rpc("announce_world", AnnounceWorld, roles=("daemon",))
    def announce_world(self, conn: RpcConnection, p: AnnounceWorld) -> dict[str, Any]:
        """A daemon puts its world on the list (again after either side restarts)."""
        assert conn.identity is not None
        if p.name != conn.identity.name:
            raise RpcError("forbidden", f"daemon '{conn.identity.name}' cannot announce '{p.name}'")
        self.master.world_announced(conn, p)
        return {"ok": True}

    @rpc("heartbeat", Heartbeat, roles=("daemon",))
    def heartbeat(self, conn: RpcConnection, p: Heartbeat) -> None:
        """A daemon's periodic population report (a notification is fine)."""
        assert conn.identity is not None
        if p.name == conn.identity.name:
            self.master.registry.heartbeat(p.name, p.population, p.status)

    @rpc("daemons", roles=("characters",))
    def daemons(self, conn: RpcConnection) -> list[DaemonAddress]:
        """Where each announced world's daemon takes the character server; later ones are notified."""
        self.master.character_servers.add(conn)
        conn.on_close(self.master.character_servers.discard)
        return self.master.registry.daemon_addresses()


class MasterServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cfg = settings.server.master
        self.registry = WorldRegistry(cfg.heartbeat_timeout_s)
        self.ticket_key = settings.secrets.key("ticket_key")
        self._decoy_key = derive_key(settings.secrets.key("master_link"), "scram-decoy")
        self.sessions: dict[int, RpcConnection] = {}
        self.character_servers: set[RpcConnection] = set()
        self.accounts: AccountStore
        self.db: Database | None = None
        self.port: RpcServer | None = None
        self._stop = asyncio.Event()

    def decoy(self, username: str) -> Verifier:
        return decoy_verifier(self._decoy_key, username, self.settings.server.master.scram_iterations)

    def take_session(self, conn: RpcConnection, account_id: int) -> None:
        """One live session per account: a new login replaces the old one, which is told why."""
        old = self.sessions.get(account_id)
        if old is not None and old is not conn:
            old.notify("kicked", "logged in from elsewhere")
            old.close("replaced by a newer login")
        self.sessions[account_id] = conn
        conn.on_close(lambda c: self.sessions.pop(account_id, None) if self.sessions.get(account_id) is c else None)

    def world_announced(self, conn: RpcConnection, world: AnnounceWorld) -> None:
        self.registry.announce(world)
        log.info("world %s announced at %s:%s", world.name, world.host, world.port)
        conn.on_close(lambda _c: self.registry.mark_down(world.name))
        address = DaemonAddress(world.name, world.characters_host, world.characters_port)
        for characters in self.character_servers:
            characters.notify("world_announced", *params_of(address))

    def kick(self, name: str, reason: str) -> bool:
        for conn in list(self.sessions.values()):
            if conn.identity is not None and conn.identity.name.casefold() == name.casefold():
                conn.notify("kicked", reason)
                conn.close(f"kicked: {reason}")
                return True
        return False

    def console_commands(self) -> CommandSet:
        commands = CommandSet()

        @commands.command("worlds", "list worlds with status and population")
        async def worlds(args: list[str]) -> str:
            rows = [f"{w.name:<16} {w.status:<6} {w.population}/{w.capacity}"
                    for w in self.registry.listing()]
            return "\n".join(rows) or "no worlds announced"

        @commands.command("accounts", "list accounts: accounts [limit]")
        async def accounts(args: list[str]) -> str:
            limit = int(args[0]) if args else 50
            rows = await self.accounts.list(limit, 0)
            return "\n".join(f"{a.id:>6} {a.name:<20} {a.role}" for a in rows) or "no accounts"

        @commands.command("sessions", "list logged-in players")
        async def sessions(args: list[str]) -> str:
            rows = [f"{c.identity.name:<20} {c.peer_ip}" for c in self.sessions.values() if c.identity]
            return "\n".join(rows) or "nobody is logged in"

        @commands.command("kick", "disconnect a player: kick <name> [reason]")
        async def kick(args: list[str]) -> str:
            if not args:
                return "usage: kick <name> [reason]"
            reason = " ".join(args[1:]) or "kicked by an administrator"
            return f"kicked {args[0]}" if self.kick(args[0], reason) else f"{args[0]} is not online"

        @commands.command("broadcast", "send a message to every logged-in player")
        async def broadcast(args: list[str]) -> str:
            text = " ".join(args)
            for conn in self.sessions.values():
                conn.notify("broadcast", text)
            return f"sent to {len(self.sessions)} players"

        @commands.command("shutdown", "stop the master cleanly")
        async def shutdown(args: list[str]) -> str:
            self._stop.set()
            return "master shutting down"

        return commands

    async def run(self, stop: asyncio.Event) -> int:
        self._stop = stop
        settings = self.settings
        cfg = settings.server.master
        url = settings.database_url(cfg.database_url, "master.db")
        self.db = await Database.open(url, schema="master")
        self.accounts = AccountStore(self.db)
        router = Router.for_services(
            MasterPort(self),
            ServiceAuth({"daemon": settings.secrets.key("master_link"),
                         "characters": settings.secrets.key("characters_link")}, "master"),
        )
        bind = settings.server.cluster.bind
        self.port = await serve(bind, cfg.port, router)
        announce(f"master listening on {bind}:{self.port.port}")
        manhole = cfg.manhole
        policy = AccessPolicy(manhole.username, settings.secrets.manhole_password, manhole.allowed_ips)
        console = await start_telnet_console(
            manhole.host, manhole.port, policy=policy, commands=self.console_commands(),
            banner="shardkit master manhole",
        )
        announce(f"master manhole (telnet) listening on {manhole.host}:{console.port}"
                 f" allowing {', '.join(manhole.allowed_ips)}")
        await stop.wait()
        log.info("master stopping")
        console.close()
        await self.port.close()
        await self.db.close()
        return 0
