"""Master port methods for accounts: registration rules, register, SCRAM login, new password."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from shardkit.config.settings import Master as MasterSettings
from shardkit.master.account_lookup import AccountLookup
from shardkit.master.accounts_rules import MIN_PASSWORD_LENGTH, NAME_PATTERN, name_problem
from shardkit.master.bans import BanList
from shardkit.master.login_guard import LoginGuard
from shardkit.master.login_log import LoginLog
from shardkit.master.metrics import MasterMetrics
from shardkit.master.schemas import (
    AccountInfo,
    ChangePassword,
    LoginDone,
    LoginFinish,
    LoginStart,
    LoginStarted,
    RegisterParams,
    RegistrationRules,
)
from shardkit.master.session import PendingLogin, sessions
from shardkit.runtime.peerlog import quote
from shardkit.store.accounts import AccountRecord, AccountStore, KeyRefused, NameTaken
from shardkit.wire.handshake import close_after_reply
from shardkit.wire.peers import Ok
from shardkit.wire.rpc import Identity, RpcConnection, RpcError, rpc
from shardkit.wire.scram import ScramError, ScramServerSession, Verifier

log = logging.getLogger("shardkit.master")

MAX_LOGIN_FAILURES_PER_CONNECTION = 3
MAX_ITERATIONS = 1_000_000


def verifier_problem(salt: bytes, stored_key: bytes, server_key: bytes, iterations: int,
                     minimum: int) -> str | None:
    """Why a client-made SCRAM verifier is not acceptable, or None."""
    if iterations < minimum or iterations > MAX_ITERATIONS:
        return f"`iterations` must be {minimum} to {MAX_ITERATIONS:,}"
    if not (16 <= len(salt) <= 64 and len(stored_key) == 32 and len(server_key) == 32):
        return "verifier needs a 16-64 byte salt and 32-byte keys"
    return None


class AccountPort:
    """Players register (sending only a verifier), log in with SCRAM-SHA-256 and change password."""

    def __init__(
        self,
        cfg: MasterSettings,
        *,
        accounts: AccountStore,
        lookup: AccountLookup,
        guard: LoginGuard,
        login_log: LoginLog,
        bans: BanList,
        metrics: MasterMetrics,
        open_session: Callable[[RpcConnection, int], None],
        decoy: Callable[[str], Verifier],
    ) -> None:
        self.cfg = cfg
        self.accounts = accounts
        self.lookup = lookup
        self.guard = guard
        self.login_log = login_log
        self.bans = bans
        self.metrics = metrics
        self.open_session = open_session
        self.decoy = decoy

    @rpc("registration_rules", public=True)
    def registration_rules(self, conn: RpcConnection) -> RegistrationRules:
        """What a new account needs: the SCRAM iteration count and the name and password rules."""
        return RegistrationRules(self.cfg.scram_iterations, MIN_PASSWORD_LENGTH, NAME_PATTERN,
                                 self.cfg.registration_keys_required)

    @rpc("register", RegisterParams, public=True)
    async def register(self, conn: RpcConnection, p: RegisterParams) -> AccountInfo:
        """Create an account from a client-made SCRAM verifier.

        The password itself never crosses the wire.
        """
        with self.metrics.timer("register"):
            try:
                record = await self._register(conn, p)
            except RpcError as exc:
                self.metrics.registrations.labels(exc.code).inc()
                raise
        self.metrics.registrations.labels("ok").inc()
        log.info("registered account %s from %s", quote(record.name), conn.peer_ip)
        return AccountInfo(record.id, record.name, record.role)

    async def _register(self, conn: RpcConnection, p: RegisterParams) -> AccountRecord:
        guard = self.guard
        guard.check_registration(conn.peer_ip)
        problem = name_problem(p.username)
        if problem:
            raise RpcError("bad_name", problem)
        problem = verifier_problem(p.salt, p.stored_key, p.server_key, p.iterations,
                                   self.cfg.scram_iterations)
        if problem:
            raise RpcError("bad_params", problem)
        key = p.registration_key.strip() or None
        if self.cfg.registration_keys_required and key is None:
            raise RpcError("bad_registration_key", "registration needs a registration key")
        guard.registering(conn.peer_ip)
        try:
            return await self.accounts.create(
                p.username, p.salt, p.stored_key, p.server_key, p.iterations,
                registration_key=key if self.cfg.registration_keys_required else None,
            )
        except NameTaken:
            raise RpcError("name_taken", f"the name '{p.username}' is taken") from None
        except KeyRefused:
            raise RpcError("bad_registration_key",
                           "that registration key is not valid or was already used") from None

    @rpc("login_start", LoginStart, public=True)
    async def login_start(self, conn: RpcConnection, p: LoginStart) -> LoginStarted:
        """SCRAM-SHA-256 step 1: send client-first, get server-first (salt, iterations, nonce)."""
        with self.metrics.timer("login_start"):
            if conn.identity is not None:
                raise RpcError("already_authenticated", "this connection is already logged in")
            self.guard.check_ip(conn.peer_ip)
            record = await self.lookup.get_by_name(p.username)
            await self.guard.check_account(conn.peer_ip, p.username,
                                                  record.id if record else None)
            if record is None:
                verifier = self.decoy(p.username)
            else:
                verifier = Verifier(record.salt, record.stored_key, record.server_key,
                                    record.iterations)
            session = ScramServerSession(verifier)
            try:
                server_first = session.first(p.client_first)
            except ScramError as exc:
                raise RpcError("bad_params", f"`client_first` is not SCRAM: {exc}") from None
            if (session.username or "").casefold() != p.username.casefold():
                raise RpcError("bad_params", "`client_first` names another user than `username`")
            sessions.of(conn).login = PendingLogin(session, record, p.username)
            return LoginStarted(server_first)

    @rpc("login_finish", LoginFinish, public=True)
    async def login_finish(self, conn: RpcConnection, p: LoginFinish) -> LoginDone:
        """SCRAM-SHA-256 step 2: send the client proof, get the server's proof and the account."""
        started = time.perf_counter()
        try:
            done = await self._login_finish(conn, p)
        except RpcError as exc:
            self.metrics.logins.labels(exc.code).inc()
            raise
        finally:
            self.metrics.latency.labels("login_finish").observe(time.perf_counter() - started)
        self.metrics.logins.labels("ok").inc()
        return done

    async def _login_finish(self, conn: RpcConnection, p: LoginFinish) -> LoginDone:
        state = sessions.of(conn)
        pending, state.login = state.login, None
        if pending is None:
            raise RpcError("auth_failed", "call login_start first")
        session, record, name = pending.scram, pending.record, pending.username
        guard, ip = self.guard, conn.peer_ip
        if guard.account_wait(name) > 0:
            await guard.check_account(ip, name, record.id if record else None)
        # From here to the failure count nothing awaits: parallel attempts cannot overrun the
        # budget.
        guard.check_ip(ip)
        server_final = self._check_proof(session, record, p.client_final)
        if server_final is None:
            guard.failed(ip, name)
            state.failed_logins += 1
            failures = state.failed_logins
            await self.login_log.record(record.id if record else None, ip, False)
            if failures >= MAX_LOGIN_FAILURES_PER_CONNECTION:
                close_after_reply(conn, "too many failed logins")
            raise RpcError("auth_failed", "wrong name or password")
        assert record is not None
        ban = self.bans.for_account(record.id)
        if ban is not None:
            await self.login_log.record(record.id, ip, False)
            raise RpcError("banned", self.bans.message_for(ban))
        conn.identity = Identity("player", record.name, record.id)
        try:
            self.open_session(conn, record.id)
        except RpcError:
            conn.identity = None
            raise
        guard.succeeded(ip, record.id)
        try:
            await self.login_log.record(record.id, ip, True)
        except RuntimeError:  # the master is stopping: an unrecorded login is not let in
            conn.identity = None
            close_after_reply(conn, "login history closed")
            raise RpcError("unavailable", "the master cannot record logins right now") from None
        return LoginDone(server_final, AccountInfo(record.id, record.name, record.role))

    def _check_proof(self, session: ScramServerSession, record: AccountRecord | None,
                     client_final: str) -> str | None:
        """The server-final message if the proof is right (and the account real), else None."""
        try:
            server_final = session.final(client_final)
        except (ScramError, ValueError):
            server_final = None
        ok = server_final is not None and record is not None
        self.metrics.password_checks.labels("ok" if ok else "failed").inc()
        return server_final if ok else None

    @rpc("change_password", ChangePassword)
    async def change_password(self, conn: RpcConnection, p: ChangePassword) -> Ok:
        """Replace the logged-in account's verifier with a new client-made one."""
        problem = verifier_problem(p.salt, p.stored_key, p.server_key, p.iterations,
                                   self.cfg.scram_iterations)
        if problem:
            raise RpcError("bad_params", problem)
        assert conn.identity is not None and conn.identity.account_id is not None
        await self.accounts.set_verifier(conn.identity.account_id, p.salt, p.stored_key,
                                                p.server_key, p.iterations)
        log.info("account %s changed its password from %s", quote(conn.identity.name),
                 conn.peer_ip)
        return Ok()
