"""MasterServer process: wires the master port, login guard, sessions, worlds, manhole, status."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import msgspec

from shardkit.config.settings import Settings, is_world_name
from shardkit.master.account_lookup import AccountLookup
from shardkit.master.account_port import AccountPort
from shardkit.master.bans import ActiveBan, BanList, Network
from shardkit.master.forwarding import BridgeForwarding, forward_key
from shardkit.master.gate import WorldGate
from shardkit.master.gm_admin import GMAdmin
from shardkit.master.gm_tickets import GMTicketService
from shardkit.master.login_guard import LoginGuard
from shardkit.master.login_log import LoginLog
from shardkit.master.manhole import start_manhole
from shardkit.master.metrics import MasterMetrics
from shardkit.master.notifications import KickAccount
from shardkit.master.queue import LoginQueues
from shardkit.master.service_port import ServicePort
from shardkit.master.services import ServiceLinks
from shardkit.master.sessions import REPLACED_TEXT, SessionTable
from shardkit.master.status_page import status_app
from shardkit.master.world_port import WorldPort
from shardkit.master.worlds import WorldRegistry
from shardkit.runtime.http import HttpEndpoint
from shardkit.runtime.main import announce
from shardkit.runtime.peerlog import quote
from shardkit.store.accounts import AccountStore, BanStore, RegistrationKeyStore
from shardkit.store.database import Database, utcnow
from shardkit.store.game_masters import GameMasterStore
from shardkit.wire.handshake import ServiceAuth, derive_key
from shardkit.wire.rpc import Router, RpcConnection, RpcServer, serve
from shardkit.wire.scram import Verifier, decoy_verifier

__all__ = ["MasterServer"]

log = logging.getLogger("shardkit.master")


class MasterServer:
    """Accounts, login, bans, the world list, world tickets and the login queue."""

    def _daemon_key(self, world: str) -> bytes | None:
        """A daemon proves its own world's key: holding one world's key announces no other."""
        return self.settings.secrets.world_key(world) if is_world_name(world) else None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cfg = settings.server.master
        self.metrics = MasterMetrics()
        self.registry = WorldRegistry(cfg.heartbeat_timeout_s)
        self.queues = LoginQueues(cfg.queue_max)
        self.gate = WorldGate(self.registry, self.queues, settings.secrets.world_ticket_key,
                              cfg.ticket_ttl_s, self.metrics)
        self.sessions = SessionTable(cfg.session_policy)
        self.bans = BanList()
        self._decoy_key = derive_key(settings.secrets.key("master_link"), "scram-decoy")
        self.services = ServiceLinks(self.registry, self.gate)
        self.accounts: AccountStore
        self.account_lookup: AccountLookup
        self.ban_store: BanStore
        self.registration_keys: RegistrationKeyStore
        self.game_masters: GameMasterStore
        self.guard: LoginGuard
        self.login_log: LoginLog
        self.db: Database | None = None
        self.port: RpcServer | None = None
        self._started = time.monotonic()
        self._stop = asyncio.Event()
        self._add_gauges()

    def _add_gauges(self) -> None:
        add = self.metrics.live_gauge
        add("shardkit_master_sessions", "Players logged in to the master.",
            lambda: {(): len(self.sessions)})
        add("shardkit_master_queue_length", "Players waiting for a world.",
            lambda: {(w.name,): w.queue for w in self.gate.listing()}, ("world",))
        add("shardkit_master_world_population", "Players in a world (from heartbeats).",
            lambda: {(w.name,): w.population for w in self.gate.listing()}, ("world",))
        add("shardkit_master_world_capacity", "Capacity a world announced.",
            lambda: {(w.name,): w.capacity for w in self.gate.listing()}, ("world",))
        add("shardkit_master_world_up", "1 if the world takes players (up or full), else 0.",
            lambda: {(w.name,): int(w.status in ("up", "full")) for w in self.gate.listing()},
            ("world",))
        add("shardkit_master_uptime_seconds", "Seconds since the master started.",
            lambda: {(): round(self.uptime_s(), 3)})

    def uptime_s(self) -> float:
        return time.monotonic() - self._started

    def _crash_loops(self, world: str) -> list[str]:
        known = self.registry.get(world)
        return list(known.crash_loops) if known else []

    def status_data(self) -> dict[str, Any]:
        """What the status page and ``/status.json`` show."""
        return {
            "uptime_s": round(self.uptime_s(), 1),
            "sessions": len(self.sessions),
            "queued": self.queues.total(),
            "worlds": [{**msgspec.structs.asdict(w), "crash_loops": self._crash_loops(w.name)}
                       for w in self.gate.listing()],
        }

    def request_stop(self) -> None:
        self._stop.set()

    def decoy(self, username: str) -> Verifier:
        iterations = self.settings.server.master.scram_iterations
        return decoy_verifier(self._decoy_key, username, iterations)

    # ------------------------------------------------------------ sessions
    def open_session(self, conn: RpcConnection, account_id: int) -> None:
        """One live session per account: replace (and put the old one out of play) or refuse."""
        if self.sessions.open(conn, account_id):
            self.metrics.kicks.labels("replaced").inc()
            self.tell_worlds(account_id, REPLACED_TEXT)

    def kick_account(self, account_id: int, reason: str, cause: str) -> tuple[bool, int]:
        """Close the account's master session and have every world drop it (saving its character).

        Returns whether it had a master session and how many worlds were told.
        """
        self.metrics.kicks.labels(cause).inc()
        had_session = self.sessions.close(account_id, reason)
        self.gate.drop_account(account_id)
        return had_session, self.tell_worlds(account_id, reason)

    def tell_worlds(self, account_id: int, reason: str) -> int:
        """Notify every world's daemon: ``kick_account [account_id, reason, tickets_before]``."""
        kick = KickAccount(account_id, reason, self.gate.tickets_issued_before_now())
        return self.services.kick_everywhere(kick)

    # ---------------------------------------------------------------- bans
    async def ban_account(self, account_id: int, reason: str, seconds: float | None,
                          by: str) -> ActiveBan:
        record = await self.ban_store.add(account_id=account_id, reason=reason,
                                          expires_at=_expiry(seconds), created_by=by)
        ban = ActiveBan.from_record(record)
        self.bans.add(ban)
        self.kick_account(account_id, self.bans.message_for(ban), "ban")
        log.warning("account %s banned by %s: %s", ban.target, quote(by), quote(reason or "-"))
        return ban

    async def ban_network(self, network: Network, reason: str, seconds: float | None,
                          by: str) -> ActiveBan:
        record = await self.ban_store.add(ip_range=str(network), reason=reason,
                                          expires_at=_expiry(seconds), created_by=by)
        ban = ActiveBan.from_record(record)
        self.bans.add(ban)
        for conn in self.sessions:
            if conn.identity is not None and conn.identity.account_id is not None \
                    and self.bans.for_ip(conn.peer_ip) is not None:
                self.kick_account(conn.identity.account_id, self.bans.message_for(ban), "ban")
        log.warning("address range %s banned by %s: %s", network, quote(by), quote(reason or "-"))
        return ban

    async def unban_account(self, account_id: int, by: str) -> int:
        lifted = await self.ban_store.lift(account_id=account_id, lifted_by=by)
        self.bans.lift(lambda b: b.account_id == account_id)
        return lifted

    async def unban_network(self, network: Network, by: str) -> int:
        lifted = await self.ban_store.lift(ip_range=str(network), lifted_by=by)
        self.bans.lift(lambda b: b.network == network)
        return lifted

    # ----------------------------------------------------------------- run
    async def _open_database(self) -> None:
        cfg = self.settings.server.master
        self.db = await Database.open(self.settings.database_url(cfg.database_url, "master.db"),
                                      schema="master")
        self.accounts = AccountStore(self.db)
        self.account_lookup = AccountLookup(self.accounts)
        self.account_lookup.start()
        self.ban_store = BanStore(self.db)
        self.registration_keys = RegistrationKeyStore(self.db)
        self.game_masters = GameMasterStore(self.db)
        self.bans.replace(ActiveBan.from_record(r) for r in await self.ban_store.in_force())
        self.guard = LoginGuard(cfg, self.accounts, self.bans)
        self.login_log = LoginLog(self.accounts)
        self.login_log.start()

    async def _start_status_page(self) -> HttpEndpoint | None:
        cfg = self.settings.server.master
        http = HttpEndpoint(status_app(self.status_data, self.metrics))
        try:
            port = await http.start(cfg.status_host, cfg.status_port)
        except OSError as exc:
            log.error("status page not started on %s:%s: %s", cfg.status_host, cfg.status_port, exc)
            announce("master status page (http) NOT started on "
                     f"{cfg.status_host}:{cfg.status_port}:"
                     f" {exc}")
            return None
        announce(f"master status page (http) listening on {cfg.status_host}:{port}"
                 " (/, /status.json, /healthz, /metrics)")
        return http

    async def run(self, stop: asyncio.Event) -> int:
        self._stop = stop
        settings = self.settings
        await self._open_database()
        router = Router.for_services(
            AccountPort(
                settings.server.master, accounts=self.accounts, lookup=self.account_lookup,
                guard=self.guard, login_log=self.login_log, bans=self.bans,
                metrics=self.metrics, open_session=self.open_session, decoy=self.decoy,
            ),
            WorldPort(self.gate, self.metrics),
            ServicePort(self.registry, self.gate, self.services),
            GMTicketService(self.accounts, settings),
            GMAdmin(self.accounts, self.game_masters, self),
            BridgeForwarding(forward_key(settings.secrets.key("master_link"))),
            ServiceAuth({"daemon": self._daemon_key,
                         "characters": settings.secrets.key("characters_link")}, "master"),
        )
        bind = settings.server.cluster.bind
        self.port = await serve(bind, settings.server.master.port, router)
        announce(f"master listening on {bind}:{self.port.port}")
        console = await start_manhole(self)
        http = await self._start_status_page()
        await stop.wait()
        log.info("master stopping")
        if http is not None:
            await http.close()
        console.close()
        await self.port.close()
        await self.login_log.close()
        await self.account_lookup.close()
        if self.db is not None:
            await self.db.close()
        return 0


def _expiry(seconds: float | None) -> datetime | None:
    return None if seconds is None else utcnow() + timedelta(seconds=seconds)
